"""Owner sync between the CRMs: a person moved a record Relais assigned. Pure: what the events
announce, checked against the CRM, and what to do about it.

The change is copied to the same person's record in the other CRM only when it was made in
``sync.yaml``'s ``owner.source_of_truth``, and only after re-reading the owner from that CRM:
Outbound Messages come in any order, and a late one (or a late echo of our own write) must not
be taken for a person's decision.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from app.decisions.service import OwnerChange
from app.inbox.events import OWNER_IN_EVENT
from app.inbox.repository import ClaimedEvent
from app.records.schemas import Record
from app.routing.assign import Roster
from app.routing.schemas import Outcome
from connectors.crm import Crm, RecordKey

EmailOf = Callable[[Crm, str], str | None]  # owner id in a CRM -> the rep's email


@dataclass(frozen=True)
class OwnerSeen:
    """A rep of the team a CRM says owns the record."""

    crm: Crm
    rep: str


def announced(events: Sequence[ClaimedEvent], email_of: EmailOf) -> OwnerSeen | None:
    """The rep the latest of these events that names an owner names, when it is a rep."""
    for e in sorted(events, key=lambda ev: ev.id, reverse=True):
        owner = OWNER_IN_EVENT[e.crm](e.payload)
        if owner:
            email = email_of(e.crm, owner)
            if email:
                return OwnerSeen(e.crm, email)
    return None


def checked(seen: OwnerSeen, fresh: Record | None, email_of: EmailOf) -> OwnerSeen | None:
    """The announced owner replaced by the one the CRM shows now (None: no rep owns it now;
    the announcement as it is when the record could not be read again)."""
    if fresh is None:
        return seen
    email = email_of(fresh.crm, fresh.owner) if fresh.owner else None
    return OwnerSeen(seen.crm, email) if email else None


@dataclass(frozen=True)
class SyncPlan:
    outcome: Outcome
    note: str
    change: OwnerChange | None = None


def plan(
    rep: str, seen: OwnerSeen | None, counterpart: RecordKey | None, truth: Crm, roster: Roster
) -> SyncPlan:
    """What to do about a record Relais gave ``rep``, given the owner its CRM shows."""
    if seen is None or seen.rep == rep:
        return SyncPlan(Outcome.ALREADY_ASSIGNED, f"owned by {rep}")
    if seen.crm != truth or counterpart is None:
        why = (
            f"{truth} is the owner's source of truth"
            if seen.crm != truth
            else "no linked record in the other CRM"
        )
        return SyncPlan(
            Outcome.ALREADY_ASSIGNED,
            f"owner changed in {seen.crm} from {rep} to {seen.rep}; not copied: {why}",
        )
    ids: Mapping[str, str] = roster.get(counterpart.crm, {})
    if seen.rep not in ids:
        return SyncPlan(
            Outcome.ALREADY_ASSIGNED,
            f"owner changed in {seen.crm} to {seen.rep}, who is unknown in {counterpart.crm}: "
            "not copied (see the team.rep_unknown_in_crm log)",
        )
    copy = OwnerChange(seen.crm, rep, seen.rep, ids[seen.rep], ids.get(rep), rep in ids)
    return SyncPlan(
        Outcome.OWNER_SYNCED, f"{seen.rep} copied from {seen.crm} to {counterpart.crm}", copy
    )
