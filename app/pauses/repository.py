"""Pauses of a CRM: set when it refuses for a while, read by whatever claims work for it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session
from sqlmodel import col

from app.db import rowcount
from app.pauses.models import CrmPause
from connectors.crm import Crm


class PauseRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def active(self, now: datetime) -> list[CrmPause]:
        """The pauses still running at ``now``, with their reasons."""
        query = select(CrmPause).where(col(CrmPause.paused_until) > now).order_by(col(CrmPause.crm))
        return list(self.session.scalars(query))

    def paused(self, now: datetime) -> list[Crm]:
        """The CRMs paused at ``now``."""
        return [pause.crm for pause in self.active(now)]

    def pause(self, crm: Crm, until: datetime, reason: str) -> None:
        """Pause ``crm`` until ``until`` (a pause already there is replaced)."""
        existing = self.session.get(CrmPause, crm)
        if existing is None:
            self.session.add(CrmPause(crm=crm, paused_until=until, reason=reason))
        else:
            existing.paused_until, existing.reason = until, reason

    def resume(self, crm: Crm) -> bool:
        """End the pause of ``crm`` now; False when it was not paused."""
        res = self.session.execute(delete(CrmPause).where(col(CrmPause.crm) == crm))
        return rowcount(res) > 0
