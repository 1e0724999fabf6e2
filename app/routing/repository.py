"""Persisted pool state, locked per pool for the length of the deciding transaction."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlmodel import col

from app.db import insert_ignoring_conflicts, table_of
from app.routing.models import RotationMember, RotationPool
from app.routing.pools import Rotation, Standing


class RotationRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def lock(self, pools: Sequence[str]) -> dict[str, Rotation]:
        """Load the pools' states and hold their row locks until the transaction ends (in
        name order: two workers locking the same pools cannot deadlock)."""
        names = sorted(set(pools))
        if not names:
            return {}
        rows = [{"pool": name, "seq": 0} for name in names]
        insert_ignoring_conflicts(self.session, table_of(RotationPool), rows, ["pool"])
        locked = self.session.scalars(
            select(RotationPool)
            .where(col(RotationPool.pool).in_(names))
            .order_by(col(RotationPool.pool))
            .with_for_update()
        ).all()
        members = self.session.scalars(
            select(RotationMember).where(col(RotationMember.pool).in_(names))
        ).all()
        standings: dict[str, dict[str, Standing]] = {name: {} for name in names}
        for m in members:
            standings[m.pool][m.member] = Standing(
                m.assigned_count, m.last_seq, m.seen_seq, m.deficit
            )
        return {row.pool: Rotation(row.seq, standings[row.pool]) for row in locked}

    def peek(self, pools: Sequence[str]) -> dict[str, Rotation]:
        """The pools' states as they stand, without a lock (a dry run reads them)."""
        rows = self.session.scalars(
            select(RotationPool).where(col(RotationPool.pool).in_(list(pools)))
        ).all()
        members = self.session.scalars(
            select(RotationMember).where(col(RotationMember.pool).in_(list(pools)))
        ).all()
        out = {name: Rotation() for name in pools}
        for row in rows:
            standings = {
                m.member: Standing(m.assigned_count, m.last_seq, m.seen_seq, m.deficit)
                for m in members
                if m.pool == row.pool
            }
            out[row.pool] = Rotation(row.seq, standings)
        return out

    def save(self, pool: str, before: Rotation, after: Rotation) -> None:
        if after == before:
            return
        row = self.session.get(RotationPool, pool)
        assert row is not None, "lock() first"
        row.seq = after.seq
        for member, state in after.members.items():
            if before.members.get(member) == state:
                continue
            existing = self.session.get(RotationMember, (pool, member))
            if existing is None:
                existing = RotationMember(pool=pool, member=member)
                self.session.add(existing)
            existing.assigned_count = state.count
            existing.last_seq = state.last_seq
            existing.seen_seq = state.seen_seq
            existing.deficit = state.deficit
