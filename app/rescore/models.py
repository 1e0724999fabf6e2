from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Integer, String
from sqlmodel import Field, SQLModel

from app.db import UTCDateTime
from app.queue import utc_field


class RescoreRun(SQLModel, table=True):
    """One pass over every known lead. ``cursor`` is the last record key done: a run killed
    half-way resumes after it. ``as_of`` is the run's clock, fixed when it starts, so that a
    resumed run scores the second half as it scored the first."""

    __tablename__ = "rescore_runs"

    id: int | None = Field(default=None, primary_key=True)
    # Scheduled runs are named by their day (one per day, whichever worker starts it);
    # runs started by ``relais rescore`` by their start time.
    name: str = Field(sa_column=Column(String(64), nullable=False, unique=True))
    as_of: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    started_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    finished_at: datetime | None = utc_field()
    cursor: str = Field(default="", sa_column=Column(String(128), nullable=False))
    total: int = Field(default=0, sa_column=Column(Integer, nullable=False))
    scanned: int = Field(default=0, sa_column=Column(Integer, nullable=False))
    changed: int = Field(default=0, sa_column=Column(Integer, nullable=False))
    routed: int = Field(default=0, sa_column=Column(Integer, nullable=False))  # now ready
    busy: int = Field(default=0, sa_column=Column(Integer, nullable=False))  # skipped: in work
    failed: int = Field(default=0, sa_column=Column(Integer, nullable=False))  # raised (logged)
