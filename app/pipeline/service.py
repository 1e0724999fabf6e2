"""From claimed inbox events to decisions and queued CRM writes.

HTTP happens outside transactions: contacts are read first, then one transaction locks the
pool's rotation state, re-checks the assignment ledger, records every decision with its
outbox write, and marks the events done. A worker that lost its lease meanwhile rolls back.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import structlog
from prometheus_client import Counter

from app.db import Database, utcnow
from app.decisions.models import Assignment, Decision
from app.decisions.repository import DecisionRepository
from app.inbox.hubspot_events import contact_record_key
from app.inbox.repository import ClaimedEvent, InboxRepository
from app.mappings.fields import HUBSPOT_CONTACT_PROPERTIES, LeadField
from app.mappings.loader import Mappings, MappingsStore
from app.outbox.models import OutboxWrite
from app.outbox.repository import OutboxRepository
from app.queue import RetryPolicy
from app.routing import engine as routing
from app.routing.repository import RotationRepository
from app.scoring import engine as scoring
from app.team.directory import OwnerDirectory
from connectors.errors import AdminActionRequired
from connectors.hubspot.port import OWNER_PROPERTY, Contact, HubSpotPort

log = structlog.get_logger("relais.pipeline")
DECISIONS = Counter("relais_decisions_total", "Routing decisions", ["outcome"])


NOT_FOUND_ERROR = "contact not found in HubSpot (not readable yet, deleted or merged)"


class LeaseLost(Exception):
    """Another worker reclaimed these events (our lease expired): our work is rolled back."""


class Outcome:
    ASSIGNED = "assigned"
    KEPT_OWNER = "kept_owner"
    ALREADY_ASSIGNED = "already_assigned"
    NOT_FOUND = "not_found"


@dataclass(frozen=True)
class Batch:
    """The claimed events of one worker step, grouped by CRM record."""

    events: Sequence[ClaimedEvent]

    def by_record(self) -> dict[str, list[ClaimedEvent]]:
        groups: dict[str, list[ClaimedEvent]] = defaultdict(list)
        for e in self.events:
            groups[e.record_key].append(e)
        return dict(groups)


def lead_from_contact(contact: Contact) -> dict[LeadField, str | None]:
    return {f: contact.properties.get(p) for f, p in HUBSPOT_CONTACT_PROPERTIES.items()}


def _object_id(record_key: str) -> str:
    return record_key.rsplit(":", 1)[1]


class ContactPipeline:
    """Routes HubSpot contacts. One instance per worker; safe to reuse across batches."""

    def __init__(
        self, db: Database, hubspot: HubSpotPort, mappings: MappingsStore, owners: OwnerDirectory
    ) -> None:
        self.db = db
        self.hubspot = hubspot
        self.mappings = mappings
        self.owners = owners
        self.properties = sorted({*HUBSPOT_CONTACT_PROPERTIES.values(), OWNER_PROPERTY})

    def process(
        self, events: Sequence[ClaimedEvent], worker_id: str, policy: RetryPolicy
    ) -> dict[str, int]:
        """Decide for every record of the batch; a contact HubSpot cannot find yet is retried
        alone (it may be a creation not yet readable) and dead-lettered if it never appears."""
        groups = Batch(events).by_record()
        with self.db.transaction() as session:
            already = DecisionRepository(session).assigned(list(groups))
        to_read = [_object_id(k) for k in groups if k not in already]
        started = time.perf_counter()
        contacts = self.hubspot.read_contacts(to_read, self.properties) if to_read else None
        fetch_ms = (time.perf_counter() - started) * 1000
        m = self.mappings.current
        pool = next(p for p in m.routing.pools if p.name == m.routing.default_pool)
        active = [e for e in pool.members if (rep := m.rep(e)) is not None and rep.active]
        owner_ids = self.owners.hubspot_owner_ids(active) if to_read else {}

        outcomes: dict[str, int] = defaultdict(int)
        with self.db.transaction() as session:
            decisions = DecisionRepository(session)
            outbox = OutboxRepository(session)
            rotation = RotationRepository(session)
            before = rotation.lock(pool.name)
            state = before
            already = decisions.assigned(list(groups))  # again, under the pool lock
            results: dict[int, str] = {}
            missing: list[ClaimedEvent] = []
            broken: list[tuple[list[ClaimedEvent], str]] = []
            now = utcnow()
            for record_key, group in groups.items():
                event_ids = [e.id for e in group]
                first_received = min(e.received_at for e in group)
                if record_key in already:
                    outcome, note = Outcome.ALREADY_ASSIGNED, f"owned by {already[record_key]}"
                else:
                    contact = contacts.found.get(_object_id(record_key)) if contacts else None
                    try:
                        # A savepoint per record: one record's bug fails that record only.
                        with session.begin_nested():
                            outcome, note, state = self._decide(
                                session_repos=(decisions, outbox),
                                mappings=m,
                                pool_name=pool.name,
                                pool_members=pool.members,
                                eligible=owner_ids,
                                state=state,
                                record_key=record_key,
                                contact=contact,
                                event_ids=event_ids,
                                first_received=first_received,
                                now=now,
                                fetch_ms=fetch_ms,
                            )
                    except AdminActionRequired:
                        raise  # a configuration problem: the whole batch waits for the fix
                    except Exception as exc:
                        log.exception("pipeline.record_failed", record=record_key)
                        broken.append((group, f"{type(exc).__name__}: {exc}"))
                        outcomes["error"] += 1
                        continue
                outcomes[outcome] += 1
                DECISIONS.labels(outcome).inc()
                if outcome == Outcome.NOT_FOUND:
                    missing.extend(group)
                    continue
                for e in group:
                    results[e.id] = f"{outcome}: {note}"
            rotation.save(pool.name, before, state)
            inbox = InboxRepository(session)
            done = [e for e in events if e.id in results]
            if not inbox.complete(done, worker_id, utcnow(), results):
                raise LeaseLost()
            if missing:
                inbox.fail(missing, worker_id, utcnow(), NOT_FOUND_ERROR, policy)
            for group, error in broken:
                inbox.fail(group, worker_id, utcnow(), error, policy)
        return dict(outcomes)

    def _decide(
        self,
        *,
        session_repos: tuple[DecisionRepository, OutboxRepository],
        mappings: Mappings,
        pool_name: str,
        pool_members: Sequence[str],
        eligible: dict[str, str],
        state: routing.PoolState,
        record_key: str,
        contact: Contact | None,
        event_ids: list[int],
        first_received: datetime,
        now: datetime,
        fetch_ms: float,
    ) -> tuple[str, str, routing.PoolState]:
        decisions, outbox = session_repos
        if contact is None:
            return Outcome.NOT_FOUND, NOT_FOUND_ERROR, state
        result = scoring.score(lead_from_contact(contact), mappings.scoring)
        details = [{"rule": c.rule, "points": c.points} for c in result.contributions]
        base: dict[str, Any] = {
            "record_key": record_key,
            "score": result.total,
            "score_details": details,
            "mappings_version": mappings.version,
            "event_ids": event_ids,
            "first_received_at": first_received,
            "decided_at": now,
            "fetch_ms": fetch_ms,
        }
        existing_owner = contact.properties.get(OWNER_PROPERTY)
        if existing_owner:
            decisions.add(
                Decision(
                    outcome=Outcome.KEPT_OWNER,
                    owner_crm_id=existing_owner,
                    rule="the contact already has an owner in HubSpot",
                    **base,
                )
            )
            return Outcome.KEPT_OWNER, f"HubSpot owner {existing_owner} kept", state
        chosen, new_state = routing.pick(pool_members, eligible, state)
        if chosen is None:
            raise AdminActionRequired(
                f"no rep of pool {pool_name!r} can take leads: every member is inactive in "
                "team.yaml or has no HubSpot owner with the same email"
            )
        member = new_state.members[chosen]
        rule = (
            f"round robin in pool {pool_name}: {chosen} had the fewest leads "
            f"({member.assigned_count - 1}) among {len(eligible)} available reps"
        )
        decision = decisions.add(
            Decision(
                outcome=Outcome.ASSIGNED,
                owner_email=chosen,
                owner_crm_id=eligible[chosen],
                pool=pool_name,
                rule=rule,
                **base,
            )
        )
        assert decision.id is not None
        decisions.add_assignment(
            Assignment(
                record_key=record_key, decision_id=decision.id, owner_email=chosen, assigned_at=now
            )
        )
        outbox.add(
            OutboxWrite(
                connector="hubspot",
                record_key=record_key,
                object_id=contact.id,
                properties={OWNER_PROPERTY: eligible[chosen]},
                decision_id=decision.id,
                created_at=now,
                available_at=now,
            )
        )
        return Outcome.ASSIGNED, f"assigned to {chosen}", new_state


__all__ = ["ContactPipeline", "LeaseLost", "Outcome", "contact_record_key"]
