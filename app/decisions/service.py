"""The persist stage: a plan becomes a decision, its ledger rows, its link and its outbox
writes, in the caller's transaction (all or nothing)."""

from __future__ import annotations

from collections.abc import MutableMapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session
from sqlmodel import col

from app.decisions.models import Assignment, Decision
from app.decisions.repository import DecisionRepository
from app.decisions.schemas import Outcome
from app.links.models import CrmLink
from app.links.repository import LinkRepository
from app.links.schemas import Link
from app.outbox.repository import OutboxRepository
from app.outbox.writes import owner_write
from app.records.schemas import Record
from app.routing.assign import Plan
from app.scoring.engine import ScoreResult
from connectors.crm import Crm, RecordKey


@dataclass(frozen=True)
class Context:
    """What every decision of one batch shares, and the events behind one record's."""

    mappings_version: str
    event_ids: list[int]
    first_received_at: datetime
    now: datetime
    fetch_ms: float | None = None


class DecisionService:
    def __init__(self, session: Session) -> None:
        self.session = session
        self.decisions = DecisionRepository(session)
        self.outbox = OutboxRepository(session)

    def record_plan(
        self,
        plan: Plan,
        record: Record,
        link: Link | None,
        score: ScoreResult,
        ctx: Context,
        ledger: MutableMapping[str, str],
        pool: str,
    ) -> Decision:
        """Store the decision with the lead it was made on; give every side of the person not
        yet in the ledger to the plan's rep; queue the planned owner writes."""
        if link is not None:
            self._link(record, link, ctx.now)
        people = [record] + ([link.other] if link else [])
        details: dict[str, Any] = {"records": [str(p.key) for p in people]}
        if link is not None:
            details["link"] = link.snapshot()
        if plan.rep is not None:
            details["writes"] = {str(w.key): w.owner_id for w in plan.writes}
        if plan.not_written:
            details["not_written"] = list(plan.not_written)
        lead: dict[str, Any] = {"record": record.snapshot()}
        if link is not None:
            lead["other"] = link.other.snapshot()
        decision = self.decisions.add(
            Decision(
                record_key=str(record.key),
                outcome=plan.outcome,
                owner_email=plan.rep,
                owner_crm_id=plan.owner_crm_id,
                pool=pool if plan.rep is not None else None,
                rule=plan.rule,
                score=score.total,
                score_details=[{"rule": c.rule, "points": c.points} for c in score.contributions],
                details=details,
                lead=lead,
                explanation=plan.explanation,
                **_common(ctx),
            )
        )
        if plan.rep is not None:
            self._give(decision, [p.key for p in people], plan.rep, ledger, ctx.now)
        for w in plan.writes:
            self.outbox.add(
                owner_write(
                    w.key,
                    w.owner_id,
                    decision.id,
                    ctx.now,
                    owner_before=w.owner_before,
                    before_known=True,
                )
            )
        return decision

    def record_owner_sync(
        self,
        record: RecordKey,
        counterpart: RecordKey,
        change: OwnerChange,
        ctx: Context,
    ) -> Decision:
        """A person moved the record to ``change.to`` in the owner's source of truth: copy it
        to the linked record and move both in the ledger."""
        decision = self.decisions.add(
            Decision(
                record_key=str(record),
                outcome=Outcome.OWNER_SYNCED,
                owner_email=change.to,
                owner_crm_id=change.to_id,
                rule=f"owner changed in {record.crm} ({record.crm} is the source of truth): "
                f"copied to {counterpart.crm}",
                details={"from": change.rep, "to": change.to, "copied_to": str(counterpart)},
                **_common(ctx),
            )
        )
        # The counterpart shows the rep we gave it (``rep``): a retry that still finds that rep
        # there sends the copy; one that finds anyone else was overtaken.
        self.outbox.add(
            owner_write(
                counterpart,
                change.to_id,
                decision.id,
                ctx.now,
                owner_before=change.before_id,
                before_known=change.before_known,
            )
        )
        self.session.execute(
            update(Assignment)
            .where(col(Assignment.record_key).in_([str(record), str(counterpart)]))
            .values(owner_email=change.to)
        )
        return decision

    def _link(self, record: Record, link: Link, now: datetime) -> None:
        hubspot, salesforce = (
            (record.key, link.other.key)
            if record.crm is Crm.HUBSPOT
            else (link.other.key, record.key)
        )
        LinkRepository(self.session).add(
            CrmLink(
                hubspot_key=str(hubspot),
                salesforce_key=str(salesforce),
                method=link.method,
                note=link.note,
                created_at=now,
            )
        )

    def _give(
        self,
        decision: Decision,
        keys: Sequence[RecordKey],
        rep: str,
        ledger: MutableMapping[str, str],
        now: datetime,
    ) -> None:
        assert decision.id is not None
        for key in keys:
            if str(key) not in ledger:
                self.decisions.add_assignment(
                    Assignment(
                        record_key=str(key),
                        decision_id=decision.id,
                        owner_email=rep,
                        assigned_at=now,
                    )
                )
                ledger[str(key)] = rep


@dataclass(frozen=True)
class OwnerChange:
    """An owner a person set, to copy to the linked record."""

    rep: str  # the rep Relais had given
    to: str  # the rep the person chose
    to_id: str  # that rep's owner id in the linked record's CRM
    before_id: str | None  # the linked record's owner id for ``rep`` (what it shows now)
    before_known: bool


def _common(ctx: Context) -> dict[str, Any]:
    return {
        "mappings_version": ctx.mappings_version,
        "event_ids": ctx.event_ids,
        "first_received_at": ctx.first_received_at,
        "decided_at": ctx.now,
        "fetch_ms": ctx.fetch_ms,
    }
