"""Persisted rotation state, locked per pool for the length of the deciding transaction."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlmodel import col

from app.db import insert_ignoring_conflicts, table_of
from app.routing.engine import MemberState, PoolState
from app.routing.models import RotationMember, RotationPool


class RotationRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def lock(self, pool: str) -> PoolState:
        """Load a pool's state and hold its row lock until the transaction ends."""
        table = table_of(RotationPool)
        insert_ignoring_conflicts(self.session, table, [{"pool": pool, "seq": 0}], ["pool"])
        row = self.session.execute(
            select(RotationPool).where(col(RotationPool.pool) == pool).with_for_update()
        ).scalar_one()
        members = self.session.scalars(
            select(RotationMember).where(col(RotationMember.pool) == pool)
        ).all()
        return PoolState(
            seq=row.seq,
            members={
                m.member: MemberState(m.assigned_count, m.last_seq, m.seen_seq) for m in members
            },
        )

    def save(self, pool: str, before: PoolState, after: PoolState) -> None:
        row = self.session.get(RotationPool, pool)
        assert row is not None, "lock() first"
        row.seq = after.seq
        for member, state in after.members.items():
            if before.members.get(member) == state:
                continue
            existing = self.session.get(RotationMember, (pool, member))
            if existing is None:
                self.session.add(
                    RotationMember(
                        pool=pool,
                        member=member,
                        assigned_count=state.assigned_count,
                        last_seq=state.last_seq,
                        seen_seq=state.seen_seq,
                    )
                )
            else:
                existing.assigned_count = state.assigned_count
                existing.last_seq = state.last_seq
                existing.seen_seq = state.seen_seq
