"""Reps paused by an admin: set and cleared by `relais reps` and the admin API, read by the
assign stage once per batch."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session
from sqlmodel import col

from app.db import insert_ignoring_conflicts, rowcount, table_of
from app.reps.models import RepPause


class RepPauseRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def pause(self, email: str, since: datetime, reason: str | None) -> bool:
        """Pause ``email`` from ``since``; True when it was not paused. A rep already paused
        keeps its ``since`` (paused from then on), with ``reason`` replacing the old one when
        given. Safe when two admins pause the same rep at once (no duplicate key)."""
        row = {"email": email, "since": since, "reason": reason}
        if insert_ignoring_conflicts(self.session, table_of(RepPause), [row], ["email"]):
            return True
        if reason is not None:
            query = update(RepPause).where(col(RepPause.email) == email).values(reason=reason)
            self.session.execute(query)
        return False

    def resume(self, email: str) -> bool:
        """End the pause of ``email``; False when it was not paused."""
        res = self.session.execute(delete(RepPause).where(col(RepPause.email) == email))
        return rowcount(res) > 0

    def get(self, email: str) -> RepPause | None:
        """The pause of ``email``, or None when it is not paused."""
        return self.session.get(RepPause, email, populate_existing=True)

    def paused(self) -> dict[str, RepPause]:
        """Every paused rep by email (one query: the assign stage reads it once per batch)."""
        query = select(RepPause).order_by(col(RepPause.email))
        return {pause.email: pause for pause in self.session.scalars(query)}
