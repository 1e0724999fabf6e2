"""From claimed inbox events to decisions and queued CRM writes: the orchestration of stages.

read (records, enrichment) -> link (the same person in the other CRM) -> evaluate (score) ->
assign (pure: a plan) -> persist (decision, ledger, link, outbox writes). HTTP happens before
the transaction; then one transaction locks the pool's rotation, re-reads the ledger, hands
each record's events to the handler of their kind, and marks the events done. A worker that
lost its lease meanwhile rolls back.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

import structlog
from prometheus_client import Counter
from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlmodel import col

from app.db import Database, utcnow
from app.decisions.repository import DecisionRepository
from app.evaluations.repository import EvaluationRepository
from app.inbox.events import FIELDS_IN_EVENT
from app.inbox.repository import ClaimedEvent, InboxRepository
from app.links.repository import LinkRepository
from app.links.schemas import Link
from app.links.service import Linker
from app.mappings.loader import Mappings, MappingsStore
from app.ownersync.service import OwnerSeen, announced, checked
from app.pipeline.batch import Batch
from app.pipeline.handlers import HANDLERS, EventKind, Handler, kind_of
from app.queue import RetryPolicy
from app.records.schemas import FieldMaps, Record
from app.records.service import RecordReader
from app.reps.models import RepPause
from app.reps.service import release_held
from app.routing import targets
from app.routing.assign import NoOwnerAvailable, Roster, Side
from app.routing.pools import Rotation
from app.routing.repository import RotationRepository
from app.routing.schemas import Outcome
from app.team.directory import OwnerDirectory
from connectors.crm import RecordKey

log = structlog.get_logger("relais.pipeline")
DECISIONS = Counter("relais_decisions_total", "Routing decisions", ["outcome"])
Groups = dict[RecordKey, list[ClaimedEvent]]


class LeaseLost(Exception):
    """Another worker reclaimed these events (our lease expired): our work is rolled back."""


@dataclass(frozen=True)
class Read:
    """What the stages before the transaction found: records, links, owners, announcements."""

    records: dict[RecordKey, Record]
    links: dict[RecordKey, Link]
    sides: dict[RecordKey, Side]
    roster: Roster
    owners_seen: dict[RecordKey, OwnerSeen]
    fetch_ms: float


class LeadPipeline:
    """Routes HubSpot contacts and Salesforce Leads/Contacts. One per worker, reusable."""

    def __init__(
        self,
        db: Database,
        reader: RecordReader,
        mappings: MappingsStore,
        owners: OwnerDirectory,
        handlers: dict[EventKind, Handler] | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.db = db
        # The instant working hours, absences and caps are judged at (decisions and writes are
        # stamped with the real time): tests fix it.
        self.clock = clock
        self._version: str | None = None  # the mappings version the last look found
        self.reader = reader
        self.linker = Linker(reader)
        self.mappings = mappings
        self.owners = owners
        self.handlers = handlers or dict(HANDLERS)

    def follow_mappings(self) -> int:
        """After a reload of the mappings: read the CRMs' owners again, and send the held
        leads through the pipeline (a rep added, activated or back may take them now).
        Returns how many leads were released; nothing at the first look."""
        if not self.mappings.loaded:
            return 0
        version = self.mappings.current.version
        seen, self._version = self._version, version
        if seen is None or seen == version:
            return 0
        self.owners.forget()
        with self.db.transaction() as session:
            return release_held(session, f"mappings reloaded ({version})", utcnow())

    def process(
        self, events: Sequence[ClaimedEvent], worker_id: str, policy: RetryPolicy
    ) -> dict[str, int]:
        """Decide for every record of the batch; a record its CRM cannot find yet is retried
        alone (it may be a creation not yet readable) and dead-lettered if it never appears.
        Raises ``NoOwnerAvailable`` when nobody can take a lead: the batch waits for an admin."""
        m = self.mappings.current  # one version for the whole batch
        groups: Groups = defaultdict(list)
        for e in events:
            groups[RecordKey.parse(e.record_key)].append(e)
        with self.db.transaction() as session:
            known = LinkRepository(session).counterparts(list(groups))
            ledger = DecisionRepository(session).assigned([*groups, *known.values()])
        settled = {k for k in groups if k in ledger or known.get(k) in ledger}
        read = self._read(groups, settled, known, m)
        with self.db.transaction() as session:
            return self._decide(session, events, groups, known, read, m, worker_id, policy)

    # -- before the transaction: read, link, resolve owners ------------------------------

    def _read(
        self,
        groups: Groups,
        settled: set[RecordKey],
        known: dict[RecordKey, RecordKey],
        m: Mappings,
    ) -> Read:
        maps = FieldMaps.of(m)
        started = time.perf_counter()
        notified = {  # the values the latest event carried, when it carried them
            key: fields
            for key, group in groups.items()
            if (latest := max(group, key=lambda e: e.id))
            and (fields := FIELDS_IN_EVENT[latest.crm](latest.payload)) is not None
        }
        named = {k: seen for k, g in groups.items() if (seen := announced(g, self.owners.email_of))}
        # Records Relais assigned are read too: a property change rescores them. Those whose
        # events name an owner are read fresh, whatever the events carried: the owner the CRM
        # shows now decides whether a person changed it (``_owners_seen``).
        fresh = self.reader.read([k for k in named if k in settled], maps)
        records = self.reader.read([k for k in groups if k not in fresh], maps, notified)
        records |= fresh
        links = self.linker.link([r for r in records.values() if r.key not in settled], known, maps)
        fetch_ms = (time.perf_counter() - started) * 1000
        owners_seen = self._owners_seen(named, settled, fresh)
        people = [r.email for r in m.team.reps]  # every rep: inactive ones keep their leads
        crms = {r.crm for r in records.values()} | {link.other.crm for link in links.values()}
        crms |= {k.crm for k in settled} | {known[k].crm for k in settled if k in known}
        roster = {crm: self.owners.owner_ids(crm, people) for crm in sorted(crms)}
        everyone = [*records.values(), *(link.other for link in links.values())]
        sides = {r.key: self._side(r, m) for r in everyone}
        return Read(records, links, sides, roster, owners_seen, fetch_ms)

    def _owners_seen(
        self,
        named: dict[RecordKey, OwnerSeen],
        settled: set[RecordKey],
        fresh: dict[RecordKey, Record],
    ) -> dict[RecordKey, OwnerSeen]:
        """The reps the events name as owners; for records Relais assigned, checked against
        the CRM itself (a late notification, or a late echo of our own write, is not a
        person's decision)."""
        email_of = self.owners.email_of
        out = {}
        for key, seen in named.items():
            if key not in settled:
                out[key] = seen
            elif (shown := checked(seen, fresh.get(key), email_of)) is not None:
                out[key] = shown
        return out

    def _side(self, record: Record, m: Mappings) -> Side:
        email = self.owners.email_of(record.crm, record.owner) if record.owner else None
        in_team = email is not None and m.rep(email) is not None
        return Side(record.key, record.owner, email if in_team else None)

    # -- the transaction: dispatch each record's events to its handler -------------------

    def _decide(
        self,
        session: Session,
        events: Sequence[ClaimedEvent],
        groups: Groups,
        known: dict[RecordKey, RecordKey],
        read: Read,
        m: Mappings,
        worker_id: str,
        policy: RetryPolicy,
    ) -> dict[str, int]:
        rotation = RotationRepository(session)
        before = rotation.lock(targets.pool_names(m))
        at = self.clock()  # the instant availability is judged at (utcnow but in tests)
        given = DecisionRepository(session).given_since(targets.week_start(m, at))
        linked = [link.other.key for link in read.links.values()]
        keys = [*groups, *known.values()]
        batch = Batch(
            session=session,
            mappings=m,
            roster=read.roster,
            ledger=DecisionRepository(session).assigned([*keys, *linked]),
            states=dict(before),
            counts=targets.team_counts(m, at, given),
            paused=frozenset(session.scalars(select(col(RepPause.email))).all()),
            records=read.records,
            links=read.links,
            sides=read.sides,
            known=known,
            owners_seen=read.owners_seen,
            evaluations=EvaluationRepository(session).latest(list(groups)),
            now=utcnow(),
            at=at,
            fetch_ms=read.fetch_ms,
        )
        results, broken, outcomes = self._handle_all(batch, groups)
        for name, after in batch.states.items():
            rotation.save(name, before.get(name, Rotation()), after)
        inbox = InboxRepository(session)
        if not inbox.complete([e for e in events if e.id in results], worker_id, utcnow(), results):
            raise LeaseLost()
        for group, error in broken:
            inbox.fail(group, worker_id, utcnow(), error, policy)
        return outcomes

    def _handle_all(
        self, batch: Batch, groups: Groups
    ) -> tuple[dict[int, str], list[tuple[list[ClaimedEvent], str]], dict[str, int]]:
        results: dict[int, str] = {}
        broken: list[tuple[list[ClaimedEvent], str]] = []
        outcomes: dict[str, int] = defaultdict(int)
        for key, group in groups.items():
            try:
                with batch.session.begin_nested():  # one record's bug fails that record only
                    handled = self.handlers[kind_of(batch, key)].handle(batch, key, group)
            except NoOwnerAvailable:
                raise  # a configuration problem: the whole batch waits for the fix
            except Exception as exc:
                log.exception("pipeline.record_failed", record=str(key))
                broken.append((group, f"{type(exc).__name__}: {exc}"))
                outcomes["error"] += 1
                continue
            outcomes[handled.outcome] += 1
            DECISIONS.labels(handled.outcome).inc()
            if handled.outcome is Outcome.NOT_FOUND:
                broken.append((group, handled.note))
                continue
            for e in group:
                results[e.id] = f"{handled.outcome}: {handled.note}"
        return results, broken, dict(outcomes)


__all__ = ["LeadPipeline", "LeaseLost"]
