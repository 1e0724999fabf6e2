from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Integer, String
from sqlmodel import Field, SQLModel

from app.db import UTCDateTime


class LeadEvaluation(SQLModel, table=True):
    """The latest evaluation of one record: the lead's fields as scored, its score and
    qualification, and the values Relais queued for the CRMs. Rescoring recomputes from it
    (decay needs no webhook) and writes only what differs from ``written``."""

    __tablename__ = "lead_evaluations"
    record_key: str = Field(sa_column=Column(String(128), primary_key=True))
    # The canonical fields the score was computed on (enriched values included).
    lead: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    # The records of the person the written values go to: this one, its linked record.
    sides: list[str] = Field(sa_column=Column(JSON, nullable=False))
    score: int = Field(sa_column=Column(Integer, nullable=False))
    outcome: str = Field(sa_column=Column(String(32), nullable=False))  # qualification
    # record key -> field -> value: what Relais queued for each side (score fields and the
    # outcome's values); a field absent was never written.
    written: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    evaluated_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    mappings_version: str = Field(sa_column=Column(String(64), nullable=False))
