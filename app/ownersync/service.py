"""Owner sync between the CRMs: a person moved a record Relais assigned.

The change is copied to the same person's record in the other CRM only when it was made in
``sync.yaml``'s ``owner.source_of_truth``, and only after re-reading the owner from that CRM:
Outbound Messages come in any order, and a late one (or a late echo of our own write) must not
be taken for a person's decision.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from app.decisions.schemas import Outcome
from app.decisions.service import OwnerChange
from app.inbox.repository import ClaimedEvent
from app.pipeline.batch import Batch, Handled
from app.records.schemas import Record
from app.routing.assign import Roster
from connectors.crm import Crm, RecordKey
from connectors.hubspot.port import OWNER_PROPERTY

EmailOf = Callable[[Crm, str], str | None]  # owner id in a CRM -> the rep's email


def _hubspot_owner(payload: Mapping[str, Any]) -> object:
    # A propertyChange event names one property; only the owner's says who owns the contact.
    return payload.get("propertyValue") if payload.get("propertyName") == OWNER_PROPERTY else None


def _salesforce_owner(payload: Mapping[str, Any]) -> object:
    # An Outbound Message carries the record's current fields, the owner among them.
    return (payload.get("fields") or {}).get("OwnerId")


OWNER_IN_EVENT: dict[Crm, Callable[[Mapping[str, Any]], object]] = {
    Crm.HUBSPOT: _hubspot_owner,
    Crm.SALESFORCE: _salesforce_owner,
}


def announced_owner(events: Sequence[ClaimedEvent], email_of: EmailOf) -> tuple[Crm, str] | None:
    """(CRM, rep email) when the latest of these events that names an owner names a rep."""
    for e in sorted(events, key=lambda ev: ev.id, reverse=True):
        crm = Crm(e.crm)
        owner = OWNER_IN_EVENT[crm](e.payload)
        if owner:
            email = email_of(crm, str(owner))
            if email:
                return crm, email
    return None


def checked(
    announced: tuple[Crm, str] | None, fresh: Record | None, email_of: EmailOf
) -> tuple[Crm, str] | None:
    """The announced change, with the owner the CRM shows now (None: no rep owns it now)."""
    if announced is None or fresh is None:
        return announced
    email = email_of(fresh.crm, fresh.owner) if fresh.owner else None
    return (announced[0], email) if email else None


@dataclass(frozen=True)
class SyncPlan:
    outcome: Outcome
    note: str
    change: OwnerChange | None = None


def plan(
    rep: str,
    change: tuple[Crm, str] | None,
    counterpart: RecordKey | None,
    truth: Crm,
    roster: Roster,
) -> SyncPlan:
    """Pure: what to do about a record Relais gave ``rep``, given the change the CRM shows."""
    if change is None or change[1] == rep:
        return SyncPlan(Outcome.ALREADY_ASSIGNED, f"owned by {rep}")
    crm, new_rep = change
    if crm != truth or counterpart is None:
        why = (
            f"{truth} is the owner's source of truth"
            if crm != truth
            else "no linked record in the other CRM"
        )
        return SyncPlan(
            Outcome.ALREADY_ASSIGNED,
            f"owner changed in {crm} from {rep} to {new_rep}; not copied: {why}",
        )
    ids = roster.get(counterpart.crm, {})
    if new_rep not in ids:
        return SyncPlan(
            Outcome.ALREADY_ASSIGNED,
            f"owner changed in {crm} to {new_rep}, who is unknown in {counterpart.crm}: not "
            "copied (see the team.rep_unknown_in_crm log)",
        )
    copy = OwnerChange(rep, new_rep, ids[new_rep], ids.get(rep), rep in ids)
    return SyncPlan(Outcome.OWNER_SYNCED, f"{new_rep} copied from {crm} to {counterpart.crm}", copy)


class OwnerChangeHandler:
    """Events about a record Relais assigned: copy a person's owner change, or nothing."""

    def handle(self, batch: Batch, key: RecordKey, events: Sequence[ClaimedEvent]) -> Handled:
        rep = batch.assigned_to(key)
        assert rep is not None, "dispatched here for assigned records only"
        counterpart = batch.known.get(key)
        truth = Crm(batch.mappings.sync.owner.source_of_truth)
        decided = plan(rep, batch.announced.get(key), counterpart, truth, batch.roster)
        if decided.change is not None and counterpart is not None:
            batch.decisions.record_owner_sync(
                key, counterpart, decided.change, batch.context_for(events)
            )
        return Handled(decided.outcome, decided.note)
