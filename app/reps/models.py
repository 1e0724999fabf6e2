from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, String, Text
from sqlmodel import Field, SQLModel

from app.db import UTCDateTime


class RepPause(SQLModel, table=True):
    """A rep paused by an admin (`relais reps pause`, `PUT /admin/api/reps/{email}/availability`):
    skipped for new leads from the next one until resumed. No row: not paused."""

    __tablename__ = "rep_pauses"

    email: str = Field(sa_column=Column(String(320), primary_key=True))
    since: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    reason: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
