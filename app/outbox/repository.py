"""Outbox queries: add writes in the decision's transaction, claim them with a lease, settle."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session, aliased
from sqlmodel import col

from app.decisions.models import Assignment, Decision
from app.outbox.models import OutboxWrite, WriteKind
from app.outbox.writes import OWNER_FIELDS
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
from connectors.crm import Crm


@dataclass(frozen=True)
class ClaimedWrite:
    id: int
    crm: Crm
    kind: WriteKind
    record_key: str
    sobject: str
    object_id: str
    fields: dict[str, Any]
    owner_before: str | None  # the owner the record had when we decided ...
    before_known: bool  # ... when it was recorded
    decision_id: int | None
    attempts: int
    created_at: datetime
    rep: str | None  # the rep the decision chose (None for writes without a decision)

    @property
    def owner_id(self) -> str:
        """The owner id an owner write sets (HubSpot owner id, Salesforce user or queue id)."""
        return str(self.fields.get(OWNER_FIELDS[self.crm]) or "")


@dataclass(frozen=True)
class Rewritten:
    """Fields of a claimed write that later writes set again, and the newest of those."""

    fields: frozenset[str]
    write_id: int
    decision_id: int | None


@dataclass(frozen=True)
class Superseded:
    write: ClaimedWrite
    reason: str
    rep: str | None = None  # the rep of the team who has the record now, when one does


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
        sendable: Collection[tuple[Crm, WriteKind]],
    ) -> list[ClaimedWrite]:
        """Lease due writes of the (CRM, kind) pairs this worker can send now (a CRM paused
        or without a writer is left out); a write whose lease expired on its last attempt is
        dead."""
        bury_expired(
            self.session,
            OutboxWrite,
            now,
            max_attempts,
            "the lease expired on the last attempt: the worker died or hung "
            "while sending this write every time",
        )
        ids = self._due(now, limit, sendable)
        if not ids:
            return []
        mark_claimed(self.session, OutboxWrite, ids, now + lease, worker_id)
        return self._claimed(ids)

    def _due(
        self, now: datetime, limit: int, sendable: Collection[tuple[Crm, WriteKind]]
    ) -> list[int]:
        """Due writes, oldest first, locked; one write per record in flight: they never cross."""
        if not sendable:
            return []
        W = OutboxWrite
        other = aliased(OutboxWrite)
        in_flight = (
            select(col(other.id))
            .where(
                col(other.crm) == col(W.crm),
                col(other.object_id) == col(W.object_id),
                col(other.id) != col(W.id),
                col(other.status) == Status.PROCESSING,
                col(other.leased_until) >= now,
            )
            .exists()
        )
        pairs = or_(*(and_(col(W.crm) == crm, col(W.kind) == kind) for crm, kind in sendable))
        query = (
            select(col(W.id))
            .where(due_clause(W, now), pairs, ~in_flight)
            .order_by(col(W.available_at), col(W.id))
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return list(self.session.scalars(query))

    def _claimed(self, ids: Sequence[int]) -> list[ClaimedWrite]:
        W = OutboxWrite
        rows = self.session.execute(
            select(
                col(W.id),
                col(W.crm),
                col(W.kind),
                col(W.record_key),
                col(W.sobject),
                col(W.object_id),
                col(W.fields),
                col(W.owner_before),
                col(W.before_known),
                col(W.decision_id),
                col(W.attempts),
                col(W.created_at),
                col(Decision.owner_email),
            )
            .outerjoin(Decision, col(Decision.id) == col(W.decision_id))
            .where(col(W.id).in_(ids))
            .order_by(col(W.id))
        ).all()
        return [ClaimedWrite(i, Crm(crm), WriteKind(kind), *rest) for i, crm, kind, *rest in rows]

    def rewritten(self, writes: Sequence[ClaimedWrite]) -> dict[int, Rewritten]:
        """For each claimed write whose fields later writes of the same record and kind set
        again: write id -> those fields and the newest such write. Only the latest value of a
        field is worth sending (an owner write: the latest decision's owner)."""
        if not writes:
            return {}
        W = OutboxWrite
        rows = self.session.execute(
            select(col(W.id), col(W.record_key), col(W.kind), col(W.fields), col(W.decision_id))
            .where(
                col(W.record_key).in_(sorted({w.record_key for w in writes})),
                col(W.id) > min(w.id for w in writes),
            )
            .order_by(col(W.id).desc())
        ).all()
        by_record: dict[tuple[str, str], list[Any]] = {}
        for row in rows:  # newest first
            by_record.setdefault((str(row[1]), str(row[2])), []).append(row)
        out: dict[int, Rewritten] = {}
        for w in writes:
            later = [r for r in by_record.get((w.record_key, w.kind), []) if r[0] > w.id]
            fields = frozenset(f for r in later for f in r[3] if f in w.fields)
            if fields:
                newest = next(r for r in later if fields & set(r[3]))
                out[w.id] = Rewritten(fields, int(newest[0]), newest[4])
        return out

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
        self._settle_decisions([w.decision_id for w in writes], now)

    def _settle_decisions(self, decision_ids: Sequence[int | None], now: datetime) -> None:
        """A decision is written when the CRMs confirmed every write it queued that was not
        explicitly superseded (and at least one was confirmed)."""
        ids = sorted({i for i in decision_ids if i is not None})
        if not ids:
            return
        # Lock the decisions first: the writes of one decision to two CRMs settle in two
        # transactions at once, and the second to get the lock must see the first's commit
        # (PostgreSQL's READ COMMITTED reads it from the next statement on).
        self.session.execute(
            select(col(Decision.id))
            .where(col(Decision.id).in_(ids))
            .order_by(col(Decision.id))
            .with_for_update()
        )
        W = OutboxWrite
        open_ = (
            select(col(W.decision_id))
            .where(
                col(W.decision_id).in_(ids),
                col(W.status).not_in([Status.DONE, Status.SUPERSEDED]),
            )
            .distinct()
        )
        confirmed = (
            select(col(W.decision_id))
            .where(col(W.decision_id).in_(ids), col(W.status) == Status.DONE)
            .distinct()
        )
        self.session.execute(
            update(Decision)
            .where(
                col(Decision.id).in_(ids),
                col(Decision.written_at).is_(None),
                col(Decision.id).not_in(open_),
                col(Decision.id).in_(confirmed),
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

    def supersede(self, items: Sequence[Superseded], worker_id: str, now: datetime) -> int:
        """Settle writes a later change made moot: not sent, never retried, and the reason
        recorded on the write and in its decision's details (``superseded``). Returns how
        many were settled (a write whose lease we lost is left to its new holder)."""
        W = OutboxWrite
        settled = 0
        for item in items:
            w = item.write
            res = self.session.execute(
                update(W)
                .where(col(W.id) == w.id, col(W.lease_owner) == worker_id)
                .values(
                    status=Status.SUPERSEDED,
                    leased_until=None,
                    last_error=f"superseded: {item.reason}"[:4000],
                )
            )
            if not getattr(res, "rowcount", 0):
                continue
            settled += 1
            decision = (
                self.session.get(
                    Decision, w.decision_id, with_for_update=True, populate_existing=True
                )
                if w.decision_id
                else None
            )
            if decision is not None:
                note: dict[str, Any] = {"record": w.record_key, "reason": item.reason}
                if w.kind is WriteKind.OWNER:
                    note["owner_id"] = w.owner_id
                else:
                    note["fields"] = w.fields
                note["at"] = now.isoformat()
                details = dict(decision.details or {})
                details["superseded"] = [*details.get("superseded", []), note]
                decision.details = details
            if item.rep is not None:  # the ledger follows the person's choice
                self.session.execute(
                    update(Assignment)
                    .where(col(Assignment.record_key) == w.record_key)
                    .values(owner_email=item.rep)
                )
        self.session.flush()
        self._settle_decisions([i.write.decision_id for i in items], now)
        return settled

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
