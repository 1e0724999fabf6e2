"""From claimed inbox events to decisions and queued CRM writes, for both CRMs.

HTTP happens outside transactions: records are read and linked first, then one transaction
locks the pool's rotation state, re-checks the assignment ledger, records every decision with
its outbox writes (one per CRM the person lives in), and marks the events done. A worker that
lost its lease meanwhile rolls back.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import structlog
from prometheus_client import Counter
from sqlalchemy import update
from sqlalchemy.orm import Session
from sqlmodel import col

from app.db import Database, utcnow
from app.decisions.models import Assignment, Decision
from app.decisions.repository import DecisionRepository
from app.inbox.repository import ClaimedEvent, InboxRepository
from app.links.models import CrmLink
from app.links.repository import LinkRepository
from app.mappings.loader import Mappings, MappingsStore
from app.outbox.models import OutboxWrite
from app.outbox.repository import OutboxRepository
from app.pipeline.records import FieldMaps, Link, Record, RecordReader, parse_key
from app.queue import RetryPolicy
from app.routing import engine as routing
from app.routing.repository import RotationRepository
from app.scoring import engine as scoring
from app.team.directory import OwnerDirectory
from connectors.errors import AdminActionRequired
from connectors.hubspot.port import OWNER_PROPERTY

log = structlog.get_logger("relais.pipeline")
DECISIONS = Counter("relais_decisions_total", "Routing decisions", ["outcome"])
CRM_NAMES = {"hubspot": "HubSpot", "salesforce": "Salesforce"}


def not_found_error(key: str) -> str:
    crm = CRM_NAMES.get(parse_key(key)[0], key)
    return f"record not found in {crm} (not readable yet, deleted or merged)"


class LeaseLost(Exception):
    """Another worker reclaimed these events (our lease expired): our work is rolled back."""


class Outcome:
    ASSIGNED = "assigned"
    FALLBACK = "fallback"
    KEPT_OWNER = "kept_owner"
    LINKED = "linked"
    OWNER_SYNCED = "owner_synced"
    ALREADY_ASSIGNED = "already_assigned"
    NOT_FOUND = "not_found"


def owner_write(
    crm: str,
    sobject: str,
    object_id: str,
    record_key: str,
    owner_id: str,
    decision_id: int | None,
    now: datetime,
    *,
    owner_before: str | None = None,
    before_known: bool = False,
) -> OutboxWrite:
    """``owner_before``: the owner the record had when we decided, kept so that a write sent
    again can tell a change made after the decision from the owner it always had."""
    props: dict[str, Any] = (
        {OWNER_PROPERTY: owner_id}
        if crm == "hubspot"
        else {"OwnerId": owner_id, "sobject": sobject}
    )
    if before_known:
        props["owner_before"] = owner_before
    return OutboxWrite(
        connector=crm,
        record_key=record_key,
        object_id=object_id,
        properties=props,
        decision_id=decision_id,
        created_at=now,
        available_at=now,
    )


@dataclass
class Step:
    """What one transaction decides: shared by the per-record decisions of a batch."""

    session: Session
    mappings: Mappings
    pool: str
    members: Sequence[str]
    owner_ids: dict[str, dict[str, str]]  # crm -> rep email -> owner id
    active: set[str]  # pool members who may receive new leads
    current: dict[str, Record]  # settled records re-read because an event says the owner moved
    ledger: dict[str, str]  # record key -> rep email
    state: routing.PoolState
    now: datetime
    fetch_ms: float
    notes: dict[str, Any] = field(default_factory=dict)

    @property
    def decisions(self) -> DecisionRepository:
        return DecisionRepository(self.session)

    @property
    def outbox(self) -> OutboxRepository:
        return OutboxRepository(self.session)


class LeadPipeline:
    """Routes HubSpot contacts and Salesforce Leads/Contacts. One per worker, reusable."""

    def __init__(
        self, db: Database, reader: RecordReader, mappings: MappingsStore, owners: OwnerDirectory
    ) -> None:
        self.db = db
        self.reader = reader
        self.mappings = mappings
        self._mappings: Mappings | None = None  # the version of the batch in progress
        self.owners = owners

    def process(
        self, events: Sequence[ClaimedEvent], worker_id: str, policy: RetryPolicy
    ) -> dict[str, int]:
        """Decide for every record of the batch; a record its CRM cannot find yet is retried
        alone (it may be a creation not yet readable) and dead-lettered if it never appears."""
        m = self._mappings = self.mappings.current  # one version for the whole batch
        self.reader.maps = FieldMaps(
            m.hubspot_properties(),
            {sobject: m.salesforce_fields(sobject) for sobject in ("Lead", "Contact")},
            m.value_maps(),
        )
        groups: dict[str, list[ClaimedEvent]] = defaultdict(list)
        for e in events:
            groups[e.record_key].append(e)
        keys = list(groups)
        with self.db.transaction() as session:
            known = LinkRepository(session).counterparts(keys)
            ledger = DecisionRepository(session).assigned([*keys, *known.values()])
        settled = {k for k in keys if k in ledger or known.get(k) in ledger}
        started = time.perf_counter()
        delivered = {
            key: dict(latest.payload.get("fields") or {})
            for key, group in groups.items()
            if (latest := max(group, key=lambda e: e.id)).source == "salesforce"
        }
        records = self.reader.read([k for k in keys if k not in settled], delivered)
        links = self.reader.link(list(records.values()), known)
        fetch_ms = (time.perf_counter() - started) * 1000

        # An owner change announced by an event is checked against the CRM itself: Outbound
        # Messages come in any order, and a late one (or a late echo of our own write) must
        # not be taken for a person's decision.
        changed = [k for k in keys if k in settled and self._changed_owner(groups[k])]
        current = self.reader.read(changed) if changed else {}

        pool = next(p for p in m.routing.pools if p.name == m.routing.default_pool)
        active = [e for e in pool.members if (rep := m.rep(e)) is not None and rep.active]
        # Ids of every rep, not only the active ones: a lead kept by, or linked to, an
        # inactive rep is written to that rep on the other side too.
        people = [r.email for r in m.team.reps]
        crms = {r.crm for r in records.values()} | {link.other.crm for link in links.values()}
        crms |= {parse_key(k)[0] for k in settled} | {
            parse_key(known[k])[0] for k in settled if k in known
        }
        owner_ids = {crm: self.owners.owner_ids(crm, people) for crm in sorted(crms)}

        outcomes: dict[str, int] = defaultdict(int)
        with self.db.transaction() as session:
            rotation = RotationRepository(session)
            before = rotation.lock(pool.name)
            linked_keys = [link.other.key for link in links.values()]
            step = Step(
                session=session,
                mappings=m,
                pool=pool.name,
                members=pool.members,
                owner_ids=owner_ids,
                ledger=DecisionRepository(session).assigned([*keys, *known.values(), *linked_keys]),
                state=before,
                active=set(active),
                current=current,
                now=utcnow(),
                fetch_ms=fetch_ms,
            )
            results: dict[int, str] = {}
            broken: list[tuple[list[ClaimedEvent], str]] = []
            for key, group in groups.items():
                try:
                    with session.begin_nested():  # one record's bug fails that record only
                        if key in step.ledger or known.get(key) in step.ledger:
                            outcome, note = self._assigned(step, key, group, known.get(key))
                        elif key not in records:
                            outcome, note = Outcome.NOT_FOUND, not_found_error(key)
                        else:
                            outcome, note = self._decide(step, records[key], links.get(key), group)
                except AdminActionRequired:
                    raise  # a configuration problem: the whole batch waits for the fix
                except Exception as exc:
                    log.exception("pipeline.record_failed", record=key)
                    broken.append((group, f"{type(exc).__name__}: {exc}"))
                    outcomes["error"] += 1
                    continue
                outcomes[outcome] += 1
                DECISIONS.labels(outcome).inc()
                if outcome == Outcome.NOT_FOUND:
                    broken.append((group, note))
                    continue
                for e in group:
                    results[e.id] = f"{outcome}: {note}"
            rotation.save(pool.name, before, step.state)
            inbox = InboxRepository(session)
            done = [e for e in events if e.id in results]
            if not inbox.complete(done, worker_id, utcnow(), results):
                raise LeaseLost()
            for group, error in broken:
                inbox.fail(group, worker_id, utcnow(), error, policy)
        return dict(outcomes)

    # -- a person Relais already assigned ---------------------------------------------------

    def _changed_owner(self, group: list[ClaimedEvent]) -> tuple[str, str] | None:
        """(crm, rep email) when these events carry an owner set by a person to a known rep."""
        for e in sorted(group, key=lambda ev: ev.id, reverse=True):
            crm = e.source
            if crm == "salesforce":
                owner = (e.payload.get("fields") or {}).get("OwnerId")
            elif e.payload.get("propertyName") == OWNER_PROPERTY:
                owner = e.payload.get("propertyValue")
            else:
                owner = None
            if owner:
                email = self.owners.email_of(crm, str(owner))
                if email:
                    return crm, email
        return None

    def _assigned(
        self, step: Step, key: str, group: list[ClaimedEvent], counterpart: str | None
    ) -> tuple[str, str]:
        rep = step.ledger.get(key) or step.ledger[str(counterpart)]
        change = self._changed_owner(group)
        fresh = step.current.get(key)
        if change is not None and fresh is not None:
            # the CRM's own word, not the (possibly stale or out-of-order) notification
            owner_email = self.owners.email_of(fresh.crm, fresh.owner) if fresh.owner else None
            change = (change[0], owner_email) if owner_email else None
        if change is None or change[1] is None or change[1] == rep:
            return Outcome.ALREADY_ASSIGNED, f"owned by {rep}"
        crm, new_rep = change[0], str(change[1])
        truth = step.mappings.sync.owner.source_of_truth
        if crm != truth or counterpart is None:
            why = (
                f"{truth} is the owner's source of truth"
                if crm != truth
                else "no linked record in the other CRM"
            )
            return Outcome.ALREADY_ASSIGNED, (
                f"owner changed in {crm} from {rep} to {new_rep}; not copied: {why}"
            )
        other_crm, other_sobject, other_id = parse_key(counterpart)
        other_owner = step.owner_ids.get(other_crm, {}).get(new_rep)
        if other_owner is None:
            return Outcome.ALREADY_ASSIGNED, (
                f"owner changed in {crm} to {new_rep}, who is unknown in {other_crm}: "
                "not copied (see the team.rep_unknown_in_crm log)"
            )
        decision = step.decisions.add(
            Decision(
                record_key=key,
                outcome=Outcome.OWNER_SYNCED,
                owner_email=new_rep,
                owner_crm_id=other_owner,
                rule=f"owner changed in {crm} ({truth} is the source "
                f"of truth): copied to {other_crm}",
                mappings_version=step.mappings.version,
                event_ids=[e.id for e in group],
                first_received_at=min(e.received_at for e in group),
                decided_at=step.now,
                details={"from": rep, "to": new_rep, "copied_to": counterpart},
            )
        )
        # The counterpart shows the rep we gave it (``rep``): a retry that still finds that rep
        # there sends the copy; one that finds anyone else was overtaken.
        step.outbox.add(
            owner_write(
                other_crm,
                other_sobject,
                other_id,
                counterpart,
                other_owner,
                decision.id,
                step.now,
                owner_before=step.owner_ids.get(other_crm, {}).get(rep),
                before_known=rep in step.owner_ids.get(other_crm, {}),
            )
        )
        step.session.execute(
            update(Assignment)
            .where(col(Assignment.record_key).in_([key, counterpart]))
            .values(owner_email=new_rep)
        )
        return Outcome.OWNER_SYNCED, f"{new_rep} copied from {crm} to {other_crm}"

    # -- a person not assigned yet ------------------------------------------------------------

    def _decide(
        self, step: Step, record: Record, link: Link | None, group: list[ClaimedEvent]
    ) -> tuple[str, str]:
        m = step.mappings
        if link is not None:
            LinkRepository(step.session).add(
                CrmLink(
                    hubspot_key=record.key if record.crm == "hubspot" else link.other.key,
                    salesforce_key=link.other.key if record.crm == "hubspot" else record.key,
                    method=link.method,
                    note=link.note,
                    created_at=step.now,
                )
            )
        people = [record] + ([link.other] if link else [])
        result = scoring.score(record.lead, m.scoring)
        details: dict[str, Any] = {"records": [p.key for p in people]}
        if link is not None:
            details["link"] = {"method": link.method, "note": link.note}
        base: dict[str, Any] = {
            "record_key": record.key,
            "score": result.total,
            "score_details": [{"rule": c.rule, "points": c.points} for c in result.contributions],
            "mappings_version": m.version,
            "event_ids": [e.id for e in group],
            "first_received_at": min(e.received_at for e in group),
            "decided_at": step.now,
            "fetch_ms": step.fetch_ms,
        }

        if link is not None and link.other.key in step.ledger:
            rep = step.ledger[link.other.key]
            outcome, rule = (
                Outcome.LINKED,
                (
                    f"same person as {link.other.key} (linked by {link.method}), already "
                    f"assigned to {rep}"
                ),
            )
        elif (
            link is not None
            and not self._existing_owner(record)[0]
            and (linked_rep := self._existing_owner(link.other)[1])
        ):
            rep, outcome = linked_rep, Outcome.KEPT_OWNER
            rule = f"the linked {link.other.crm} record is already owned by {rep}"
        elif (existing := self._existing_owner(record))[0]:
            rule = f"the {record.crm} record already has an owner ({existing[1] or record.owner})"
            if existing[1] is None:  # an owner outside the team: keep it, write nothing
                step.decisions.add(
                    Decision(
                        outcome=Outcome.KEPT_OWNER,
                        owner_crm_id=record.owner,
                        rule=rule,
                        details=details,
                        **base,
                    )
                )
                return Outcome.KEPT_OWNER, f"{record.crm} owner {record.owner} kept"
            rep, outcome = existing[1], Outcome.KEPT_OWNER
        else:
            crms = sorted({p.crm for p in people})
            eligible = {
                email
                for email in step.members
                if email in step.active and all(email in step.owner_ids.get(c, {}) for c in crms)
            }
            chosen, new_state = routing.pick(step.members, eligible, step.state)
            if chosen is not None:
                step.state, rep, outcome = new_state, chosen, Outcome.ASSIGNED
                count = new_state.members[chosen].assigned_count - 1
                rule = (
                    f"round robin in pool {step.pool}: {chosen} had the fewest leads "
                    f"({count}) among {len(eligible)} reps available in {', '.join(crms)}"
                )
            else:
                rep, outcome = self._fallback(step, crms), Outcome.FALLBACK
                rule = (
                    f"no rep of pool {step.pool} is active and known in "
                    f"{' and '.join(crms)}: fallback owner"
                )
        writes = []
        for person in people:
            owner_id = step.owner_ids.get(person.crm, {}).get(rep)
            if owner_id is None:
                # Kept or linked to a rep this CRM does not know: that side keeps its owner;
                # the gap is in the decision and in the team.rep_unknown_in_crm log.
                details.setdefault("not_written", []).append(
                    f"{person.key}: {rep} has no user in {person.crm}"
                )
                continue
            if person.owner != owner_id:
                writes.append((person, owner_id))
        own_id = step.owner_ids.get(record.crm, {}).get(rep)
        details["writes"] = {p.key: o for p, o in writes}
        decision = step.decisions.add(
            Decision(
                outcome=outcome,
                owner_email=rep,
                owner_crm_id=own_id,
                pool=step.pool,
                rule=rule,
                details=details,
                **base,
            )
        )
        assert decision.id is not None
        for person in people:
            if person.key not in step.ledger:
                step.decisions.add_assignment(
                    Assignment(
                        record_key=person.key,
                        decision_id=decision.id,
                        owner_email=rep,
                        assigned_at=step.now,
                    )
                )
                step.ledger[person.key] = rep
        for person, owner_id in writes:
            step.outbox.add(
                owner_write(
                    person.crm,
                    person.sobject,
                    person.id,
                    person.key,
                    owner_id,
                    decision.id,
                    step.now,
                    owner_before=person.owner,
                    before_known=True,
                )
            )
        return outcome, f"{outcome} to {rep}"

    def _existing_owner(self, record: Record) -> tuple[bool, str | None]:
        """(already owned?, the owning rep's email when they are in the team).

        HubSpot: any owner is kept. Salesforce: every Lead has an owner (its creator, a queue,
        the integration user), so only an owner who is a rep of the team counts.
        """
        if not record.owner:
            return False, None
        email = self.owners.email_of(record.crm, record.owner)
        batch_mappings = self._mappings or self.mappings.current
        in_team = email is not None and batch_mappings.rep(email) is not None
        if record.crm == "salesforce":
            return in_team, email if in_team else None
        return True, email if in_team else None

    def _fallback(self, step: Step, crms: list[str]) -> str:
        fallback = step.mappings.routing.fallback_owner
        if fallback is None:
            raise AdminActionRequired(
                f"no rep of pool {step.pool!r} can take leads (inactive in team.yaml, or "
                f"unknown in {' or '.join(crms)}) and routing.yaml has no fallback_owner"
            )
        fallback = fallback.lower()
        missing = [c for c in crms if fallback not in step.owner_ids.get(c, {})]
        if missing:
            raise AdminActionRequired(
                f"no rep of pool {step.pool!r} can take leads, and the fallback owner "
                f"{fallback} is unknown in {', '.join(missing)}"
            )
        log.warning("pipeline.fallback_owner", pool=step.pool, owner=fallback)
        return fallback


__all__ = ["LeadPipeline", "LeaseLost", "Outcome"]
