from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, ForeignKey, Index, Integer, String
from sqlmodel import Field, SQLModel

from app.db import UTCDateTime
from app.queue import attempts_field, error_field, lease_owner_field, status_field, utc_field


class OutboxWrite(SQLModel, table=True):
    """Properties to set on one CRM record (idempotent: replaying it writes the same values)."""

    __tablename__ = "outbox_writes"
    __table_args__ = (
        Index("ix_outbox_writes_claim", "status", "available_at"),
        Index("ix_outbox_writes_record", "connector", "object_id", "id"),
        Index("ix_outbox_writes_record_key", "record_key", "id"),
        Index("ix_outbox_writes_decision", "decision_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    connector: str = Field(sa_column=Column(String(32), nullable=False))
    record_key: str = Field(sa_column=Column(String(128), nullable=False))
    object_id: str = Field(sa_column=Column(String(64), nullable=False))
    properties: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    decision_id: int | None = Field(
        default=None, sa_column=Column(Integer, ForeignKey("decisions.id"), nullable=True)
    )
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    status: str = status_field()
    attempts: int = attempts_field()
    available_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    leased_until: datetime | None = utc_field()
    lease_owner: str | None = lease_owner_field()
    last_error: str | None = error_field()
    sent_at: datetime | None = utc_field()
