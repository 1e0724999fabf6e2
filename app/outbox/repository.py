"""Outbox queries: add writes in the decision's transaction, claim them with a lease, settle."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.orm import Session

from app.decisions.models import Decision
from app.outbox.models import OutboxWrite
from app.queue import RetryPolicy, Status


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

    def claim(self, worker_id: str, now: datetime, lease: timedelta, limit: int,
              paused: Sequence[str] = ()) -> list[ClaimedWrite]:
        W = OutboxWrite
        due = or_(
            and_(W.status == Status.PENDING, W.available_at <= now),
            and_(W.status == Status.PROCESSING, W.leased_until < now),  # type: ignore[operator]
        )
        query = (select(W.id).where(due).order_by(W.available_at, W.id).limit(limit)
                 .with_for_update(skip_locked=True))
        if paused:
            query = query.where(W.connector.not_in(list(paused)))  # type: ignore[attr-defined]
        ids = list(self.session.scalars(query))
        if not ids:
            return []
        self.session.execute(
            update(W).where(W.id.in_(ids))  # type: ignore[union-attr]
            .values(status=Status.PROCESSING, leased_until=now + lease, lease_owner=worker_id,
                    attempts=W.attempts + 1))
        rows = self.session.execute(
            select(W.id, W.connector, W.object_id, W.properties, W.decision_id, W.attempts)
            .where(W.id.in_(ids)).order_by(W.id)).all()  # type: ignore[union-attr]
        return [ClaimedWrite(*row) for row in rows]

    def sent(self, writes: Sequence[ClaimedWrite], worker_id: str, now: datetime) -> None:
        W = OutboxWrite
        ids = [w.id for w in writes]
        if not ids:
            return
        self.session.execute(
            update(W).where(W.id.in_(ids), W.lease_owner == worker_id)  # type: ignore[union-attr]
            .values(status=Status.DONE, sent_at=now, leased_until=None, last_error=None))
        decision_ids = [w.decision_id for w in writes if w.decision_id is not None]
        if decision_ids:
            self.session.execute(
                update(Decision).where(Decision.id.in_(decision_ids),  # type: ignore[union-attr]
                                       Decision.written_at.is_(None))  # type: ignore[union-attr]
                .values(written_at=now))

    def fail(self, write: ClaimedWrite, worker_id: str, now: datetime, error: str,
             policy: RetryPolicy, *, retry_after: float = 0.0, dead_now: bool = False) -> bool:
        """Retry later or dead-letter; returns True when dead-lettered."""
        dead = dead_now or policy.exhausted(write.attempts)
        values: dict[str, Any] = (
            {"status": Status.DEAD} if dead
            else {"status": Status.PENDING,
                  "available_at": policy.next_try(write.attempts, now, retry_after)})
        self.session.execute(
            update(OutboxWrite).where(OutboxWrite.id == write.id,
                                      OutboxWrite.lease_owner == worker_id)
            .values(leased_until=None, last_error=error[:4000], **values))
        return dead

    def postpone(self, writes: Sequence[ClaimedWrite], worker_id: str, until: datetime) -> None:
        W = OutboxWrite
        self.session.execute(
            update(W).where(W.id.in_([w.id for w in writes]),  # type: ignore[union-attr]
                            W.lease_owner == worker_id)
            .values(status=Status.PENDING, available_at=until, leased_until=None,
                    attempts=W.attempts - 1))

    def dead(self, limit: int = 100) -> list[OutboxWrite]:
        return list(self.session.scalars(
            select(OutboxWrite).where(OutboxWrite.status == Status.DEAD)
            .order_by(OutboxWrite.id).limit(limit)))

    def replay(self, ids: Sequence[int], now: datetime) -> int:
        res = self.session.execute(
            update(OutboxWrite).where(OutboxWrite.id.in_(list(ids)),  # type: ignore[union-attr]
                                      OutboxWrite.status == Status.DEAD)
            .values(status=Status.PENDING, attempts=0, available_at=now))
        return int(res.rowcount)  # type: ignore[attr-defined]

    def counts(self) -> dict[str, int]:
        rows = self.session.execute(
            select(OutboxWrite.status, func.count()).group_by(OutboxWrite.status)).all()
        return {str(status): int(n) for status, n in rows}
