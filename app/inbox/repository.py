"""Inbox queries: store once, claim with a lease (one record at a time), finish, retry, replay."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session
from sqlmodel import col

from app.db import insert_ignoring_conflicts, rowcount, table_of
from app.inbox.models import InboxEvent, RecordLease
from app.pauses.repository import PauseRepository
from app.queue import (
    RetryPolicy,
    Status,
    bury_expired,
    dead_items,
    due_clause,
    items_with_status,
    mark_claimed,
    replay_dead,
    status_counts,
)
from connectors.crm import Crm, RecordKey


@dataclass(frozen=True)
class StoreResult:
    """Rows newly stored (``ignored`` and ``rejected`` among them) and redeliveries skipped."""

    stored: int
    duplicates: int
    ignored: int
    rejected: int = 0

    @property
    def to_process(self) -> int:
        return self.stored - self.ignored - self.rejected


@dataclass(frozen=True)
class ClaimedEvent:
    id: int
    crm: Crm
    record_key: str
    event_type: str
    received_at: datetime
    attempts: int
    payload: dict[str, Any]


LEASE_EXPIRED_ERROR = (
    "the lease expired on the last attempt: the worker died or hung while processing this "
    "event every time (see the worker logs), so it is not taken again"
)


class InboxRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    # -- writing (webhook side) -------------------------------------------------------------

    def store(self, rows: Sequence[dict[str, Any]]) -> StoreResult:
        """Insert events, silently skipping those already stored (redeliveries, concurrency)."""
        # One key order for every transaction: two deliveries of overlapping events in
        # different orders cannot deadlock on PostgreSQL.
        ordered = sorted(rows, key=lambda r: str(r["dedupe_key"]))
        statuses = insert_ignoring_conflicts(
            self.session, table_of(InboxEvent), ordered, ["crm", "dedupe_key"], "status"
        )
        ignored = sum(1 for status in statuses if status == Status.IGNORED)
        rejected = sum(1 for status in statuses if status == Status.REJECTED)
        return StoreResult(len(statuses), len(rows) - len(statuses), ignored, rejected)

    def enqueue(
        self,
        key: RecordKey,
        event_type: str,
        origin: str,
        payload: dict[str, Any],
        now: datetime,
        due: datetime | None = None,
    ) -> None:
        """An event Relais raises itself about a record (a rescore found it ready), processed
        like the CRMs' own; once per (event type, origin, record)."""
        digest = hashlib.sha256(f"{event_type}:{origin}:{key}".encode()).hexdigest()[:48]
        row = {
            "crm": key.crm,
            "dedupe_key": f"relais:{digest}",
            "record_key": str(key),
            "event_type": event_type,
            "occurred_at": now,
            "received_at": now,
            "available_at": due or now,
            "payload": payload,
            "status": Status.PENDING,
        }
        self.store([row])

    def drop_pending(self, key: RecordKey, event_type: str, why: str) -> None:
        """Relais's own pending events of this type about the record are not needed any more
        (a later one replaces them): set aside as ignored, with why."""
        E = InboxEvent
        self.session.execute(
            update(E)
            .where(
                col(E.record_key) == str(key),
                col(E.event_type) == event_type,
                col(E.status) == Status.PENDING,
            )
            .values(status=Status.IGNORED, result=f"ignored: {why}")
        )

    # -- claiming (worker side) -------------------------------------------------------------

    def claim(
        self,
        worker_id: str,
        now: datetime,
        lease: timedelta,
        limit: int,
        max_attempts: int,
        crms: Sequence[str] | None = None,
    ) -> list[ClaimedEvent]:
        """Lease up to ``limit`` due events, never two workers on the same record.

        A record is taken by upserting its row in ``record_leases`` only where the previous
        lease has expired; events of records another worker holds are not even candidates.
        ``crms``: the ``Crm`` values this worker can reach (None: all); events of a paused CRM wait.
        Claiming counts an attempt, and an event whose lease expired on its last attempt (its
        worker died or hung every time) is dead-lettered here instead of being taken again.
        """
        bury_expired(
            self.session, InboxEvent, now, max_attempts, LEASE_EXPIRED_ERROR, finished_at=now
        )
        candidates = self._candidates(now, limit, crms)
        if not candidates:
            return []
        keys = sorted({record_key for _, record_key in candidates})
        until = now + lease
        acquired = set(self.acquire_records(keys, worker_id, now, until))
        ids = [i for i, record_key in candidates if record_key in acquired]
        if not ids:
            return []
        mark_claimed(self.session, InboxEvent, ids, until, worker_id)
        return self._claimed(ids)

    def _candidates(
        self, now: datetime, limit: int, crms: Sequence[str] | None
    ) -> list[tuple[int, str]]:
        """Due events of records no live lease holds, of CRMs reachable and not paused, locked
        (``SKIP LOCKED``) in the order they became due."""
        E = InboxEvent
        live_lease = (
            select(RecordLease.record_key)  # type: ignore[call-overload]
            .where(
                col(RecordLease.record_key) == col(E.record_key),
                col(RecordLease.leased_until) >= now,
            )
            .exists()
        )
        query = (
            select(col(E.id), col(E.record_key))
            .where(due_clause(E, now), col(E.record_key).is_not(None), ~live_lease)
            .order_by(col(E.available_at), col(E.id))
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        if paused := PauseRepository(self.session).paused(now):
            query = query.where(col(E.crm).not_in(paused))
        if crms is not None:  # events of a CRM this worker cannot reach wait in the inbox
            query = query.where(col(E.crm).in_(list(crms)))
        rows = self.session.execute(query).all()
        return [(i, key) for i, key in rows if i is not None and key is not None]  # typing only

    def _claimed(self, ids: list[int]) -> list[ClaimedEvent]:
        E = InboxEvent
        rows = self.session.execute(
            select(
                col(E.id),
                col(E.crm),
                col(E.record_key),
                col(E.event_type),
                col(E.received_at),
                col(E.attempts),
                col(E.payload),
            )
            .where(col(E.id).in_(ids))
            .order_by(col(E.id))
        ).all()
        return [ClaimedEvent(*row) for row in rows]

    def acquire_records(
        self, keys: list[str], worker_id: str, now: datetime, until: datetime
    ) -> list[str]:
        """Take the records no one holds (or whose holder's lease expired); returns those."""
        table = table_of(RecordLease)
        dialect = self.session.get_bind().dialect.name
        ins = postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)
        stmt = ins.on_conflict_do_update(
            index_elements=["record_key"],
            set_={
                "lease_owner": ins.excluded.lease_owner,
                "leased_until": ins.excluded.leased_until,
            },
            where=table.c.leased_until < now,
        )
        # One statement, its parameters sent as many rows ("insertmanyvalues"): compiled once
        # and cached, where a VALUES list of each batch's length was compiled every time.
        rows = [{"record_key": k, "lease_owner": worker_id, "leased_until": until} for k in keys]
        if not rows:
            return []
        result = self.session.execute(stmt.returning(table.c.record_key), rows)
        return list(result.scalars())

    # -- finishing --------------------------------------------------------------------------

    def release(self, record_keys: Iterable[str], worker_id: str) -> None:
        """Give back the records this worker holds."""
        keys = sorted(set(record_keys))
        if keys:
            self.session.execute(
                delete(RecordLease).where(
                    col(RecordLease.record_key).in_(keys),
                    col(RecordLease.lease_owner) == worker_id,
                )
            )

    def complete(
        self, events: Sequence[ClaimedEvent], worker_id: str, now: datetime, results: dict[int, str]
    ) -> bool:
        """Mark events done. Returns False when another worker took them (lease lost)."""
        E = InboxEvent
        ok = True
        for event in events:
            res = self.session.execute(
                update(E)
                .where(
                    col(E.id) == event.id,
                    col(E.lease_owner) == worker_id,
                    col(E.status) == Status.PROCESSING,
                )
                .values(
                    status=Status.DONE,
                    finished_at=now,
                    leased_until=None,
                    result=results.get(event.id, "done"),
                    last_error=None,
                )
            )
            ok = ok and rowcount(res) == 1
        keys = sorted({e.record_key for e in events})
        if keys:
            held = self.session.scalar(
                select(func.count())
                .select_from(RecordLease)
                .where(
                    col(RecordLease.record_key).in_(keys),
                    col(RecordLease.lease_owner) == worker_id,
                )
            )
            ok = ok and held == len(keys)
        self.release(keys, worker_id)
        return ok

    def fail(
        self,
        events: Sequence[ClaimedEvent],
        worker_id: str,
        now: datetime,
        error: str,
        policy: RetryPolicy,
        *,
        retry_after: float = 0.0,
        dead_now: bool = False,
    ) -> int:
        """Schedule a retry with back-off, or dead-letter; returns how many were dead-lettered."""
        E = InboxEvent
        dead = 0
        for event in events:
            if dead_now or policy.exhausted(event.attempts):
                values: dict[str, Any] = {"status": Status.DEAD, "finished_at": now}
                dead += 1
            else:
                values = {
                    "status": Status.PENDING,
                    "available_at": policy.next_try(event.attempts, now, retry_after),
                }
            self.session.execute(
                update(E)
                .where(col(E.id) == event.id, col(E.lease_owner) == worker_id)
                .values(leased_until=None, last_error=error[:4000], **values)
            )
        self.release((e.record_key for e in events), worker_id)
        return dead

    def postpone(self, events: Sequence[ClaimedEvent], worker_id: str, until: datetime) -> None:
        """Put events back without counting the attempt (their CRM is paused)."""
        E = InboxEvent
        for event in events:
            self.session.execute(
                update(E)
                .where(col(E.id) == event.id, col(E.lease_owner) == worker_id)
                .values(
                    status=Status.PENDING,
                    available_at=until,
                    leased_until=None,
                    attempts=col(E.attempts) - 1,
                )
            )
        self.release((e.record_key for e in events), worker_id)

    # -- admin ------------------------------------------------------------------------------

    def dead(self, limit: int = 100) -> list[InboxEvent]:
        return dead_items(self.session, InboxEvent, limit)

    def rejected(self, limit: int = 100) -> list[InboxEvent]:
        """Events refused at the webhook, newest first (their reason is in ``result``)."""
        return items_with_status(self.session, InboxEvent, Status.REJECTED, limit)

    def replay(self, event_ids: Sequence[int], now: datetime) -> int:
        """Give dead-lettered events a fresh set of attempts."""
        return replay_dead(self.session, InboxEvent, event_ids, now, finished_at=None)

    def counts(self) -> dict[str, int]:
        return status_counts(self.session, InboxEvent)

    def waiting(self) -> dict[Crm, int]:
        """Events still to process (pending or being processed), per CRM."""
        E = InboxEvent
        rows = self.session.execute(
            select(col(E.crm), func.count())
            .where(col(E.status).in_([Status.PENDING, Status.PROCESSING]))
            .group_by(col(E.crm))
        ).all()
        return {Crm(crm): int(n) for crm, n in rows}
