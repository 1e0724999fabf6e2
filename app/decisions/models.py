from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, ForeignKey, Index, Integer, String, Text
from sqlmodel import Field, SQLModel

from app.db import UTCDateTime
from app.queue import utc_field


class Decision(SQLModel, table=True):
    """One routing decision for one CRM record."""

    __tablename__ = "decisions"
    __table_args__ = (
        Index("ix_decisions_record_key", "record_key"),
        Index("ix_decisions_routing_rule", "routing_rule"),
    )

    id: int | None = Field(default=None, primary_key=True)
    record_key: str = Field(sa_column=Column(String(128), nullable=False))
    outcome: str = Field(sa_column=Column(String(32), nullable=False))
    owner_email: str | None = Field(default=None, sa_column=Column(String(320), nullable=True))
    owner_crm_id: str | None = Field(default=None, sa_column=Column(String(64), nullable=True))
    pool: str | None = Field(default=None, sa_column=Column(String(128), nullable=True))
    rule: str = Field(sa_column=Column(Text, nullable=False))
    score: int | None = Field(default=None, sa_column=Column(Integer, nullable=True))
    score_details: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )
    mappings_version: str = Field(sa_column=Column(String(64), nullable=False))
    event_ids: list[int] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    first_received_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    decided_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    fetch_ms: float | None = None
    details: dict[str, Any] = Field(
        default_factory=dict, sa_column=Column(JSON, nullable=False, server_default="{}")
    )
    written_at: datetime | None = utc_field()
    # The lead as the stages saw it (records, canonical fields, owners, link): a decision can
    # be replayed and explained from it alone. None for owner syncs and older decisions.
    lead: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    # The assign stage's structured explanation (rule, candidates, pick, pool state).
    explanation: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    # The routing rule's name (``explanation.routing_rule.name``) as a plain column: searched
    # alike on SQLite and PostgreSQL, whose JSON operators differ. None: no rule chose the pool.
    routing_rule: str | None = Field(default=None, sa_column=Column(String(128), nullable=True))


class Assignment(SQLModel, table=True):
    """The ledger of owners Relais gave: one row per record, so a record is assigned once."""

    __tablename__ = "assignments"
    # Caps count the leads given since the start of a rep's day and week.
    __table_args__ = (Index("ix_assignments_assigned_at", "assigned_at"),)

    record_key: str = Field(sa_column=Column(String(128), primary_key=True))
    decision_id: int = Field(sa_column=Column(Integer, ForeignKey("decisions.id"), nullable=False))
    owner_email: str = Field(sa_column=Column(String(320), nullable=False))
    assigned_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
