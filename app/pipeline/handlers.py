"""Inbox events dispatched by kind: one handler per kind, chosen from a registry.

A new kind (a status change that returns a lead to marketing, an SLA timer that fires) is an
``EventKind`` and a handler registered in ``HANDLERS``, not a branch in the pipeline.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Protocol

import structlog

from app.decisions.explain import yours_because
from app.enrichment import writeback
from app.evaluations.service import Values, changed, evaluated
from app.inbox.repository import ClaimedEvent, InboxRepository
from app.links.schemas import Link
from app.mappings.loader import Mappings
from app.mappings.schemas import for_object
from app.ownersync import service as ownersync
from app.pipeline.batch import Batch, Handled
from app.qualification.engine import READY, Qualified, qualify, write_back
from app.records.schemas import Record
from app.routing import targets
from app.routing.assign import Person, Plan, PoolConfig, assign
from app.routing.pools import Rotation
from app.routing.schemas import HOLD_EVENT, Outcome
from app.scoring import engine as scoring
from app.scoring.engine import ScoreResult, score_fields
from connectors.crm import RecordKey

log = structlog.get_logger("relais.pipeline")


class EventKind(StrEnum):
    LEAD = "lead"  # a lead created or changed
    OWNER_CHANGE = "owner_change"  # a lead Relais assigned, whose events name an owner


class Handler(Protocol):
    def handle(self, batch: Batch, key: RecordKey, events: Sequence[ClaimedEvent]) -> Handled:
        """Decide for one record inside the batch's transaction; raise to fail it alone."""
        ...


def kind_of(batch: Batch, key: RecordKey) -> EventKind:
    """The kind of one record's events. A Salesforce notification carries every field, the
    owner among them, so whether it changes the owner of a lead Relais assigned is known from
    the ledger, checked inside the transaction: another worker may have assigned the same
    person's other record since the batch was read."""
    if key in batch.owners_seen and batch.assigned_to(key) is not None:
        return EventKind.OWNER_CHANGE
    return EventKind.LEAD


def not_found_error(key: RecordKey) -> str:
    return f"record not found in {key.crm.label} (not readable yet, deleted or merged)"


@dataclass(frozen=True)
class Evaluated:
    """A lead after the evaluate stage: its score and whether it goes to sales."""

    record: Record
    link: Link | None
    person: Person
    score: ScoreResult
    qualified: Qualified
    write_back: dict[RecordKey, dict[str, str | None]]  # the outcome's values, per record


class LeadHandler:
    """A lead not assigned yet: evaluate (score, qualify), then keep it in marketing, or
    assign it (pure) and persist the decision."""

    def handle(self, batch: Batch, key: RecordKey, events: Sequence[ClaimedEvent]) -> Handled:
        rep = batch.assigned_to(key)
        record = batch.records.get(key)
        if rep is not None:  # changed after Relais assigned it: rescored, never un-routed
            return rescore_assigned(batch, key, rep, record, events)
        if record is None:
            return Handled(Outcome.NOT_FOUND, not_found_error(key))
        lead = evaluate(batch, record, batch.links.get(key))
        if not lead.qualified.ready:
            return self._keep_in_marketing(batch, lead, events)
        m = batch.mappings
        pool = targets.target(m, record.lead, lead.score, m.field_types())
        state = batch.states.get(pool.name, Rotation())
        plan = assign(lead.person, pool, batch.roster, state, batch.at, batch.available())
        if plan.outcome is Outcome.FALLBACK:
            log.warning("pipeline.fallback_owner", pool=pool.name, owner=plan.rep)
        if plan.outcome is Outcome.HELD:
            return hold(batch, lead, pool, plan, events)
        values = _with_why(m, plan, lead)
        batch.decisions.record_plan(
            plan, lead.person, record, lead.link, lead.score, batch.context_for(events),
            batch.ledger, pool.name, lead.qualified, values,
        )  # fmt: skip
        remember(batch, lead, values)
        if pool.persisted:  # once the decision is stored: a record that fails moves nobody
            batch.states[pool.name] = plan.state
        if plan.rep is None:
            return Handled(plan.outcome, f"{record.crm} owner {record.owner} kept")
        if plan.outcome in (Outcome.ASSIGNED, Outcome.FALLBACK):  # a new lead for the rep's caps
            batch.gave(plan.rep)
        return Handled(plan.outcome, f"{plan.outcome} to {plan.rep}")

    def _keep_in_marketing(
        self, batch: Batch, lead: Evaluated, events: Sequence[ClaimedEvent]
    ) -> Handled:
        q = lead.qualified
        before = batch.evaluations.get(lead.record.key)
        values = changed(lead.write_back, before)
        if before is not None and before.outcome == q.outcome and not values:
            # Still qualified the same way, and nothing to write: nothing new to record. The
            # fields are kept, for rescoring to start from what the lead is now.
            if before.lead != lead.record.lead:
                remember(batch, lead, {})
            return Handled(Outcome.UNCHANGED, f"still {q.outcome}: {q.reason}")
        batch.decisions.record_qualification(
            lead.person, lead.record, lead.link, lead.score, q, batch.context_for(events), values
        )
        remember(batch, lead, values)
        return Handled(Outcome(q.outcome), q.reason)


def _with_why(m: Mappings, plan: Plan, lead: Evaluated) -> dict[RecordKey, dict[str, str | None]]:
    """The values written with the owner, and where routing.yaml's ``explain`` names a field,
    why the lead is the rep's (for a rep a pool or a rule gave, not an owner kept)."""
    values = {k: dict(v) for k, v in lead.write_back.items()}
    if m.routing.explain is None or plan.outcome not in (Outcome.ASSIGNED, Outcome.FALLBACK):
        return values
    lines = [(c.rule, c.points) for c in lead.score.contributions if c.points > 0]
    lines.sort(key=lambda line: -line[1])
    text = yours_because(plan.explanation, lead.score.total, lines)
    for side in lead.person.sides:
        field = for_object(m.routing.explain, side.key.crm, side.key.sobject)
        if isinstance(field, str) and field:
            values.setdefault(side.key, {})[field] = text
    return values


def hold(
    batch: Batch, lead: Evaluated, pool: PoolConfig, plan: Plan, events: Sequence[ClaimedEvent]
) -> Handled:
    """Nobody of the pool can take the lead and its rule says hold: the decision says so, and
    the lead comes back to the inbox when the first member can take it (a resumed rep sends
    it back earlier)."""
    away = list(plan.explanation.get("pick", {}).get("skipped", {}))  # not the unknown ones
    # Held because the fallback cannot take it either: the fallback coming back ends it too.
    away += list(plan.explanation.get("fallback_unavailable") or {})
    until = targets.hold_until(away, batch.mappings, batch.at, batch.paused, batch.counts)
    explanation = dict(plan.explanation) | {"held_until": until and until.isoformat()}
    plan = replace(plan, explanation=explanation)
    decision = batch.decisions.record_plan(
        plan, lead.person, lead.record, lead.link, lead.score, batch.context_for(events),
        batch.ledger, pool.name, lead.qualified, {},
    )  # fmt: skip
    inbox = InboxRepository(batch.session)
    # One next try per record: a try scheduled by an earlier hold is replaced by this one.
    inbox.drop_pending(lead.record.key, HOLD_EVENT, f"replaced by decision {decision.id}")
    if until is not None:
        payload = {"held_by_decision": decision.id, "pool": pool.name}
        due = batch.now + (until - batch.at)  # the inbox runs on the real time
        inbox.enqueue(
            lead.record.key, HOLD_EVENT, f"decision {decision.id}", payload, batch.now, due
        )
    remember(batch, lead, {})
    when = until.isoformat() if until is not None else "a rep of the pool is resumed"
    return Handled(Outcome.HELD, f"nobody of {pool.name} can take it until {when}")


def remember(batch: Batch, lead: Evaluated, sent: Values) -> None:
    key = lead.record.key
    sides = [side.key for side in lead.person.sides]
    row = evaluated(
        key, lead.record.lead, sides, lead.score.total, lead.qualified.outcome, sent,
        batch.evaluations.get(key), batch.now, batch.mappings.version,
    )  # fmt: skip
    batch.remember(row)


def rescore_assigned(
    batch: Batch,
    key: RecordKey,
    rep: str,
    record: Record | None,
    events: Sequence[ClaimedEvent],
) -> Handled:
    """A lead Relais assigned changed: its score fields follow (the owner and the values its
    qualification wrote stay: a lead routed once is never un-routed)."""
    if record is None:
        return Handled(Outcome.ALREADY_ASSIGNED, f"owned by {rep}")
    m = batch.mappings
    result = scoring.score(record.lead, m.scoring, m.field_types(), batch.now)
    sides = [key, *([batch.known[key]] if key in batch.known else [])]
    before = batch.evaluations.get(key)
    values = changed({s: score_fields(m.scoring.write, result, s) for s in sides}, before)
    outcome = before.outcome if before is not None else READY
    row = evaluated(
        key, record.lead, sides, result.total, outcome, values, before, batch.now, m.version
    )
    if not values and before is not None and before.lead == record.lead:
        return Handled(Outcome.ALREADY_ASSIGNED, f"owned by {rep}")
    if values:
        batch.decisions.record_rescore(key, rep, result, values, batch.context_for(events))
    batch.remember(row)
    if not values:
        return Handled(Outcome.ALREADY_ASSIGNED, f"owned by {rep}")
    return Handled(Outcome.RESCORED, f"owned by {rep}, score now {result.total}")


def evaluate(batch: Batch, record: Record, link: Link | None) -> Evaluated:
    """The evaluate stage (pure over what the batch read): the score, then qualification. A
    person whose other record already has a rep joins that rep whatever the score."""
    m = batch.mappings
    types = m.field_types()
    score = scoring.score(record.lead, m.scoring, types, batch.now)
    assigned_other = batch.ledger.get(link.other.key) if link else None
    person = Person(
        record=batch.sides[record.key],
        other=batch.sides[link.other.key] if link else None,
        link_method=link.method if link else None,
        other_assigned_to=assigned_other,
    )
    qualified = (
        Qualified("ready", f"the same person's other record is with {assigned_other}")
        if assigned_other is not None
        else qualify(record.lead, score, m.qualification, types)
    )
    values = {
        side.key: fields
        for side in person.sides
        if (
            fields := score_fields(m.scoring.write, score, side.key)
            | write_back(m.qualification, qualified, side.key)
        )
    }
    for read in (record, link.other) if link else (record,):
        # Enriched values sync.yaml sends back, each side from its own CRM's values; the
        # score's and the outcome's values win over an enriched one for the same field.
        if enriched := writeback.writes(read, m):
            values[read.key] = enriched | values.get(read.key, {})
    return Evaluated(record, link, person, score, qualified, values)


class OwnerChangeHandler:
    """Events about a lead Relais assigned that name an owner: copy a person's change from
    the source of truth to the other CRM, or nothing."""

    def handle(self, batch: Batch, key: RecordKey, events: Sequence[ClaimedEvent]) -> Handled:
        rep = batch.assigned_to(key)
        assert rep is not None, "dispatched here for assigned records only"
        counterpart = batch.known.get(key)
        truth = batch.mappings.sync.owner.source_of_truth
        decided = ownersync.plan(rep, batch.owners_seen.get(key), counterpart, truth, batch.roster)
        if decided.change is not None and counterpart is not None:
            batch.decisions.record_owner_sync(
                key, counterpart, decided.change, batch.context_for(events)
            )
        elif decided.change is None:
            # A Salesforce notification names the owner whatever changed: the change may be
            # a title or a size, which the score follows.
            rescored = rescore_assigned(batch, key, rep, batch.records.get(key), events)
            if rescored.outcome is Outcome.RESCORED:
                return rescored
        return Handled(decided.outcome, decided.note)


HANDLERS: dict[EventKind, Handler] = {
    EventKind.LEAD: LeadHandler(),
    EventKind.OWNER_CHANGE: OwnerChangeHandler(),
}
