from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, String, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from app.db import CrmType, UTCDateTime
from app.queue import attempts_field, error_field, lease_owner_field, status_field, utc_field
from connectors.crm import Crm


class InboxEvent(SQLModel, table=True):
    """One event received from a CRM, stored once per (crm, dedupe_key)."""

    __tablename__ = "inbox_events"
    __table_args__ = (
        UniqueConstraint("crm", "dedupe_key"),
        Index("ix_inbox_events_claim", "status", "available_at"),
        Index("ix_inbox_events_record_key", "record_key"),
    )

    id: int | None = Field(default=None, primary_key=True)
    crm: Crm = Field(sa_column=Column(CrmType(), nullable=False))
    dedupe_key: str = Field(sa_column=Column(String(64), nullable=False))
    record_key: str | None = Field(default=None, sa_column=Column(String(128), nullable=True))
    event_type: str = Field(sa_column=Column(String(64), nullable=False))
    occurred_at: datetime | None = utc_field()
    received_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    payload: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    status: str = status_field()
    attempts: int = attempts_field()
    available_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    leased_until: datetime | None = utc_field()
    lease_owner: str | None = lease_owner_field()
    last_error: str | None = error_field()
    result: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    finished_at: datetime | None = utc_field()


class RecordLease(SQLModel, table=True):
    """Held while a worker processes a CRM record: no two workers touch one record at once."""

    __tablename__ = "record_leases"

    record_key: str = Field(sa_column=Column(String(128), primary_key=True))
    lease_owner: str = Field(sa_column=Column(String(64), nullable=False))
    leased_until: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
