"""Outbox queries: add writes in the decision's transaction, claim them with a lease, settle."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session
from sqlmodel import col

from app.decisions.models import Decision
from app.outbox.models import OutboxWrite
from app.queue import (
    RetryPolicy,
    Status,
    bury_expired,
    dead_items,
    due_clause,
    mark_claimed,
    replay_dead,
    status_counts,
)


@dataclass(frozen=True)
class ClaimedWrite:
    id: int
    connector: str
    object_id: str
    properties: dict[str, Any]
    decision_id: int | None
    attempts: int


class OutboxRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, write: OutboxWrite) -> None:
        self.session.add(write)

    def claim(
        self,
        worker_id: str,
        now: datetime,
        lease: timedelta,
        limit: int,
        max_attempts: int,
        paused: Sequence[str] = (),
    ) -> list[ClaimedWrite]:
        """Lease due writes; a write whose lease expired on its last attempt is dead."""
        W = OutboxWrite
        bury_expired(
            self.session,
            W,
            now,
            max_attempts,
            "the lease expired on the last attempt: the worker died or hung "
            "while sending this write every time",
        )
        due = due_clause(W, now)
        query = (
            select(col(W.id))
            .where(due)
            .order_by(col(W.available_at), col(W.id))
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        if paused:
            query = query.where(col(W.connector).not_in(list(paused)))
        ids = list(self.session.scalars(query))
        if not ids:
            return []
        mark_claimed(self.session, W, ids, now + lease, worker_id)
        rows = self.session.execute(
            select(
                col(W.id),
                col(W.connector),
                col(W.object_id),
                col(W.properties),
                col(W.decision_id),
                col(W.attempts),
            )
            .where(col(W.id).in_(ids))
            .order_by(col(W.id))
        ).all()
        return [ClaimedWrite(*row) for row in rows]

    def sent(self, writes: Sequence[ClaimedWrite], worker_id: str, now: datetime) -> None:
        W = OutboxWrite
        ids = [w.id for w in writes]
        if not ids:
            return
        self.session.execute(
            update(W)
            .where(col(W.id).in_(ids), col(W.lease_owner) == worker_id)
            .values(status=Status.DONE, sent_at=now, leased_until=None, last_error=None)
        )
        decision_ids = [w.decision_id for w in writes if w.decision_id is not None]
        if decision_ids:
            self.session.execute(
                update(Decision)
                .where(
                    col(Decision.id).in_(decision_ids),
                    col(Decision.written_at).is_(None),
                )
                .values(written_at=now)
            )

    def fail(
        self,
        write: ClaimedWrite,
        worker_id: str,
        now: datetime,
        error: str,
        policy: RetryPolicy,
        *,
        retry_after: float = 0.0,
        dead_now: bool = False,
    ) -> bool:
        """Retry later or dead-letter; returns True when dead-lettered."""
        dead = dead_now or policy.exhausted(write.attempts)
        values: dict[str, Any] = (
            {"status": Status.DEAD}
            if dead
            else {
                "status": Status.PENDING,
                "available_at": policy.next_try(write.attempts, now, retry_after),
            }
        )
        self.session.execute(
            update(OutboxWrite)
            .where(col(OutboxWrite.id) == write.id, col(OutboxWrite.lease_owner) == worker_id)
            .values(leased_until=None, last_error=error[:4000], **values)
        )
        return dead

    def overtaken(self, writes: Sequence[ClaimedWrite], worker_id: str, now: datetime) -> None:
        """Settle writes that someone else's owner change made moot: not sent, not retried."""
        W = OutboxWrite
        self.session.execute(
            update(W)
            .where(col(W.id).in_([w.id for w in writes]), col(W.lease_owner) == worker_id)
            .values(
                status=Status.DONE,
                leased_until=None,
                last_error="not written: the record got another owner in the CRM meanwhile",
            )
        )

    def postpone(self, writes: Sequence[ClaimedWrite], worker_id: str, until: datetime) -> None:
        W = OutboxWrite
        self.session.execute(
            update(W)
            .where(
                col(W.id).in_([w.id for w in writes]),
                col(W.lease_owner) == worker_id,
            )
            .values(
                status=Status.PENDING,
                available_at=until,
                leased_until=None,
                attempts=col(W.attempts) - 1,
            )
        )

    def dead(self, limit: int = 100) -> list[OutboxWrite]:
        return dead_items(self.session, OutboxWrite, limit)

    def replay(self, ids: Sequence[int], now: datetime) -> int:
        """Give dead-lettered writes a fresh set of attempts."""
        return replay_dead(self.session, OutboxWrite, ids, now)

    def counts(self) -> dict[str, int]:
        return status_counts(self.session, OutboxWrite)
