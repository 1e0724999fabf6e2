from __future__ import annotations

from enum import StrEnum


class Outcome(StrEnum):
    """What a decision did; stored in ``decisions.outcome`` and counted by outcome."""

    ASSIGNED = "assigned"  # round robin picked a rep
    FALLBACK = "fallback"  # nobody of the pool could take it: the fallback owner
    KEPT_OWNER = "kept_owner"  # the record (or its linked record) already had an owner
    LINKED = "linked"  # the same person's other record was assigned already: same rep
    OWNER_SYNCED = "owner_synced"  # a person changed the owner: copied to the other CRM
    ALREADY_ASSIGNED = "already_assigned"  # nothing to do (not stored as a decision)
    NOT_FOUND = "not_found"  # the CRM cannot find the record (yet): retried
    # Qualification (qualification.yaml): kept in marketing, not routed
    DISQUALIFIED = "disqualified"  # out of target
    INCOMPLETE = "incomplete"  # stays in marketing until completed
    NURTURE = "nurture"  # not ready for sales yet
    UNCHANGED = "unchanged"  # qualified as before: nothing new to record or write
    HELD = "held"  # nobody of its target can take it now: held until someone can (when_nobody)
    RESCORED = "rescored"  # a lead's score changed (an event or a rescore): its fields follow


# The inbox event that brings a held lead back to the pipeline: due when the first member of
# its pool can take it, or at once when an admin resumes a rep.
HOLD_EVENT = "relais.hold"
