"""What the inbox and the outbox share: status values, the retry schedule, the lease columns."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import Column, ColumnElement, Integer, String, Text, and_, func, or_, select, update
from sqlalchemy.orm import Session
from sqlmodel import Field, col

from app.db import UTCDateTime


class Status(StrEnum):
    PENDING = "pending"
    PROCESSING = "processing"
    DONE = "done"
    SUPERSEDED = "superseded"  # outbox: not sent, a later change made it moot (recorded)
    IGNORED = "ignored"
    REJECTED = "rejected"  # inbox: refused at the webhook (a value broke a rule); never claimed
    DEAD = "dead"


MAX_RETRY_AFTER_SECONDS = 24 * 3600.0  # the longest wait a Retry-After may impose


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff: ``delay(n) = min(max_delay, base * 2 ** (n - 1))`` after attempt n.

    With ``jitter`` the delay is drawn uniformly in ``[delay / 2, delay]`` so that a burst of
    failures does not come back as a burst. After ``max_attempts`` failed attempts the item is
    dead-lettered with its last error.
    """

    base_seconds: float = 2.0
    max_seconds: float = 600.0
    max_attempts: int = 10
    jitter: bool = True

    def delay(self, attempt: int, rng: random.Random | None = None) -> float:
        if attempt < 1:
            raise ValueError("attempts are counted from 1")
        raw = min(self.max_seconds, self.base_seconds * float(2 ** min(attempt - 1, 60)))
        if not self.jitter:
            return raw
        return float((rng or random).uniform(raw / 2, raw))

    def next_try(self, attempt: int, now: datetime, floor_seconds: float = 0.0) -> datetime:
        """When attempt ``attempt + 1`` may run; ``floor_seconds`` honours a vendor Retry-After,
        up to MAX_RETRY_AFTER_SECONDS (a CRM asking for years is not taken at its word)."""
        floor = min(max(floor_seconds, 0.0), MAX_RETRY_AFTER_SECONDS)
        return now + timedelta(seconds=max(self.delay(attempt), floor))

    def exhausted(self, attempt: int) -> bool:
        return attempt >= self.max_attempts


def status_field() -> Any:
    return Field(default=Status.PENDING.value, sa_column=Column(String(16), nullable=False))


def attempts_field() -> Any:
    return Field(default=0, sa_column=Column(Integer, nullable=False, server_default="0"))


def lease_owner_field() -> Any:
    return Field(default=None, sa_column=Column(String(64), nullable=True))


def error_field() -> Any:
    return Field(default=None, sa_column=Column(Text, nullable=True))


def utc_field(nullable: bool = True) -> Any:
    return Field(default=None, sa_column=Column(UTCDateTime(), nullable=nullable))


# -- the queue mechanics both tables share (their columns are the same) -------------------------


def due_clause(model: Any, now: datetime) -> ColumnElement[bool]:
    """Pending and due, or claimed by a worker whose lease has run out."""
    return or_(
        and_(col(model.status) == Status.PENDING, col(model.available_at) <= now),
        and_(col(model.status) == Status.PROCESSING, col(model.leased_until) < now),
    )


def bury_expired(
    session: Session, model: Any, now: datetime, max_attempts: int, error: str, **values: Any
) -> None:
    """Dead-letter items whose lease ran out on their last attempt: their worker died or hung
    every time, so taking them again would only kill the next one."""
    session.execute(
        update(model)
        .where(
            col(model.status) == Status.PROCESSING,
            col(model.leased_until) < now,
            col(model.attempts) >= max_attempts,
        )
        .values(status=Status.DEAD, leased_until=None, last_error=error, **values)
    )


def mark_claimed(
    session: Session, model: Any, ids: Sequence[int | None], until: datetime, worker_id: str
) -> None:
    """Lease the items to ``worker_id`` until ``until``; claiming counts an attempt."""
    session.execute(
        update(model)
        .where(col(model.id).in_(ids))
        .values(
            status=Status.PROCESSING,
            leased_until=until,
            lease_owner=worker_id,
            attempts=col(model.attempts) + 1,
        )
    )


def dead_items(session: Session, model: Any, limit: int) -> list[Any]:
    """Dead-lettered items, oldest first."""
    query = (
        select(model).where(col(model.status) == Status.DEAD).order_by(col(model.id)).limit(limit)
    )
    return list(session.scalars(query))


def replay_dead(
    session: Session, model: Any, ids: Sequence[int], now: datetime, **values: Any
) -> int:
    """Give dead-lettered items a fresh set of attempts; returns how many were replayed."""
    res = session.execute(
        update(model)
        .where(col(model.id).in_(list(ids)), col(model.status) == Status.DEAD)
        .values(status=Status.PENDING, attempts=0, available_at=now, **values)
    )
    return int(getattr(res, "rowcount", 0))


def status_counts(session: Session, model: Any) -> dict[str, int]:
    rows = session.execute(
        select(col(model.status), func.count()).group_by(col(model.status))
    ).all()
    return {str(status): int(n) for status, n in rows}


def items_with_status(session: Session, model: Any, status: Status, limit: int) -> list[Any]:
    """Items in ``status``, newest first (rejected events pile up: the latest matter most)."""
    query = (
        select(model).where(col(model.status) == status).order_by(col(model.id).desc()).limit(limit)
    )
    return list(session.scalars(query))


def statuses_of(session: Session, model: Any, ids: Sequence[int]) -> dict[int, str]:
    """The status of each of ``ids`` that exists."""
    if not ids:
        return {}
    rows = session.execute(
        select(col(model.id), col(model.status)).where(col(model.id).in_(list(ids)))
    ).all()
    return {int(i): str(status) for i, status in rows}
