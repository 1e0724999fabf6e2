"""The persist stage: a plan becomes a decision, its ledger rows, its link and its outbox
writes, in the caller's transaction (all or nothing)."""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from app.decisions.explain import describe
from app.decisions.models import Assignment, Decision
from app.decisions.repository import DecisionRepository
from app.links.models import LINK_COLUMNS, CrmLink
from app.links.repository import LinkRepository
from app.links.schemas import Link
from app.outbox.repository import OutboxRepository
from app.outbox.writes import fields_write, owner_write
from app.qualification.engine import Qualified
from app.records.schemas import Record
from app.routing.assign import Person, Plan
from app.routing.schemas import Outcome
from app.scoring.engine import ScoreResult
from connectors.crm import Crm, RecordKey

Ledger = MutableMapping[RecordKey, str]  # record -> the rep Relais gave it


@dataclass(frozen=True)
class Context:
    """What a decision records about how it was made, besides the plan."""

    mappings_version: str
    event_ids: list[int]
    first_received_at: datetime
    now: datetime
    fetch_ms: float | None = None  # how long the reads before the decision took


@dataclass(frozen=True)
class OwnerChange:
    """An owner a person set in the source of truth, to copy to the linked record."""

    made_in: Crm  # where the person changed it (the owner's source of truth)
    rep: str  # the rep Relais had given
    to: str  # the rep the person chose
    to_id: str  # that rep's owner id in the linked record's CRM
    before_id: str | None  # the linked record's owner id for ``rep`` (what it shows now)
    before_known: bool


class DecisionService:
    def __init__(self, session: Session) -> None:
        self.session = session
        self.decisions = DecisionRepository(session)
        self.outbox = OutboxRepository(session)

    def record_plan(
        self,
        plan: Plan,
        person: Person,
        record: Record,
        link: Link | None,
        score: ScoreResult,
        ctx: Context,
        ledger: Ledger,
        pool: str,
        qualified: Qualified,
        write_back: Mapping[RecordKey, dict[str, str | None]],
    ) -> Decision:
        """Store the decision with the lead it was made on; give every side of the person not
        yet in the ledger to the plan's rep; queue the planned owner writes, with the values
        qualification writes back in the same call (or alone where the owner is already
        right)."""
        if link is not None:
            self._link(record, link, ctx.now)
        people = [record] + ([link.other] if link else [])
        decision = self.decisions.add(
            Decision(
                record_key=str(record.key),
                outcome=plan.outcome,
                owner_email=plan.rep,
                owner_crm_id=plan.owner_crm_id,
                pool=pool if plan.rep is not None or plan.outcome is Outcome.HELD else None,
                rule=describe(plan.explanation),
                score=score.total,
                score_details=_breakdown(score),
                details=_details(plan, people, link) | _evaluation(score, qualified),
                lead=_lead(person, people, link),
                explanation=plan.explanation,
                routing_rule=(plan.explanation.get("routing_rule") or {}).get("name"),
                **_common(ctx),
            )
        )
        if plan.rep is not None:
            self._give(decision, [p.key for p in people], plan.rep, ledger, ctx.now)
        owners = {w.key: w for w in plan.writes}
        for w in plan.writes:
            write = owner_write(
                w.key, w.owner_id, decision.id, ctx.now, owner_before=w.owner_before,
                before_known=True, also=write_back.get(w.key),
            )  # fmt: skip
            self.outbox.add(write)
        self._write_back({k: v for k, v in write_back.items() if k not in owners}, decision, ctx)
        return decision

    def record_qualification(
        self,
        person: Person,
        record: Record,
        link: Link | None,
        score: ScoreResult,
        qualified: Qualified,
        ctx: Context,
        write_back: Mapping[RecordKey, dict[str, str | None]],
    ) -> Decision:
        """A lead kept in marketing: the decision says why, the CRMs get the outcome's
        values; no owner, no ledger row (a later event may find it ready)."""
        if link is not None:
            self._link(record, link, ctx.now)
        people = [record] + ([link.other] if link else [])
        details: dict[str, Any] = {"records": [str(p.key) for p in people]}
        if link is not None:
            details["link"] = link.snapshot()
        decision = self.decisions.add(
            Decision(
                record_key=str(record.key),
                outcome=qualified.outcome,
                rule=qualified.reason,
                score=score.total,
                score_details=_breakdown(score),
                details=details | _evaluation(score, qualified),
                lead=_lead(person, people, link),
                **_common(ctx),
            )
        )
        self._write_back(write_back, decision, ctx)
        return decision

    def record_rescore(
        self,
        key: RecordKey,
        rep: str | None,
        score: ScoreResult,
        values: Mapping[RecordKey, dict[str, str | None]],
        ctx: Context,
        *,
        outcome: str = Outcome.RESCORED,
        why: str = "the lead changed",
        qualified: Qualified | None = None,
    ) -> Decision:
        """A known lead scored again (a property change, or time passing): the decision says
        why, the CRMs get the values that changed."""
        details: dict[str, Any] = {"records": sorted({str(k) for k in values} | {str(key)})}
        details |= {"rescored": why, "writes": {str(k): v for k, v in values.items()}}
        if qualified is not None:
            details |= _evaluation(score, qualified)
        decision = self.decisions.add(
            Decision(
                record_key=str(key),
                outcome=outcome,
                owner_email=rep,
                rule=f"rescored ({why}): score {score.total}"
                + (f", {qualified.outcome}: {qualified.reason}" if qualified else ""),
                score=score.total,
                score_details=_breakdown(score),
                details=details,
                **_common(ctx),
            )
        )
        self._write_back(values, decision, ctx)
        return decision

    def _write_back(
        self,
        values: Mapping[RecordKey, dict[str, str | None]],
        decision: Decision,
        ctx: Context,
    ) -> None:
        for key, fields in values.items():
            if fields:
                self.outbox.add(fields_write(key, fields, decision.id, ctx.now))

    def record_owner_sync(
        self, record: RecordKey, counterpart: RecordKey, change: OwnerChange, ctx: Context
    ) -> Decision:
        """Copy the owner a person chose to the linked record, and move both in the ledger."""
        decision = self.decisions.add(
            Decision(
                record_key=str(record),
                outcome=Outcome.OWNER_SYNCED,
                owner_email=change.to,
                owner_crm_id=change.to_id,
                rule=f"owner changed in {change.made_in} ({change.made_in} is the source of "
                f"truth): copied to {counterpart.crm}",
                details={"from": change.rep, "to": change.to, "copied_to": str(counterpart)},
                **(_common(ctx) | {"fetch_ms": None}),  # nothing was read for the decision
            )
        )
        # The counterpart shows the rep we gave it (``rep``): a retry that still finds that rep
        # there sends the copy; one that finds anyone else was overtaken.
        write = owner_write(
            counterpart, change.to_id, decision.id, ctx.now, owner_before=change.before_id,
            before_known=change.before_known,
        )  # fmt: skip
        self.outbox.add(write)
        self.decisions.reassign([record, counterpart], change.to)
        return decision

    def _link(self, record: Record, link: Link, now: datetime) -> None:
        sides = {
            LINK_COLUMNS[record.crm]: str(record.key),
            LINK_COLUMNS[link.other.crm]: str(link.other.key),
        }
        LinkRepository(self.session).add(
            CrmLink(**sides, method=link.method, note=link.note, created_at=now)
        )

    def _give(
        self, decision: Decision, keys: Sequence[RecordKey], rep: str, ledger: Ledger, now: datetime
    ) -> None:
        assert decision.id is not None
        for key in keys:
            if key not in ledger:
                self.decisions.add_assignment(
                    Assignment(
                        record_key=str(key), decision_id=decision.id, owner_email=rep,
                        assigned_at=now,
                    )
                )  # fmt: skip
                ledger[key] = rep


def _evaluation(score: ScoreResult, qualified: Qualified) -> dict[str, Any]:
    return {
        "temperature": score.temperature,
        "sales_ready": score.sales_ready,
        "grade": score.grade,
        "level": score.level,
        "revealing": score.revealing,
        "qualification": qualified.snapshot(),
    }


def _breakdown(score: ScoreResult) -> list[dict[str, Any]]:
    """Every rule that fired: its name and points (as stored before groups), its group and the
    value that triggered it."""
    return [
        {"rule": c.rule, "points": c.points, "group": c.group, "value": c.value}
        for c in score.contributions
    ]


def _details(plan: Plan, people: Sequence[Record], link: Link | None) -> dict[str, Any]:
    details: dict[str, Any] = {"records": [str(p.key) for p in people]}
    if link is not None:
        details["link"] = link.snapshot()
    if plan.not_written:
        details["not_written"] = list(plan.not_written)
    if plan.rep is not None:
        details["writes"] = {str(w.key): w.owner_id for w in plan.writes}
    return details


def _lead(person: Person, people: Sequence[Record], link: Link | None) -> dict[str, Any]:
    """The person as ``assign`` saw it, with each record's canonical fields."""
    lead = person.snapshot()
    fields = {str(p.key): {str(f): v for f, v in p.lead.items()} for p in people}
    for side in ("record", "other"):
        if lead.get(side) is not None:
            lead[side]["fields"] = fields[lead[side]["key"]]
    if link is not None:
        lead["link"] = link.snapshot()
    return lead


def _common(ctx: Context) -> dict[str, Any]:
    return {
        "mappings_version": ctx.mappings_version,
        "event_ids": ctx.event_ids,
        "first_received_at": ctx.first_received_at,
        "decided_at": ctx.now,
        "fetch_ms": ctx.fetch_ms,
    }
