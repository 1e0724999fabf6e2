from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Boolean, Column, ForeignKey, Index, Integer, String, false
from sqlmodel import Field, SQLModel

from app.db import CrmType, UTCDateTime
from app.queue import attempts_field, error_field, lease_owner_field, status_field, utc_field
from connectors.crm import Crm


class WriteKind(StrEnum):
    """What a write does to its record; each (CRM, kind) has its writer (``writers.py``)."""

    OWNER = "owner"  # set the owner: judged again before it is sent again (``resend.py``)
    FIELDS = "fields"  # set field values: idempotent, sent again as they are


class OutboxWrite(SQLModel, table=True):
    """Fields to set on one CRM record (idempotent: replaying it writes the same values)."""

    __tablename__ = "outbox_writes"
    __table_args__ = (
        Index("ix_outbox_writes_claim", "status", "available_at"),
        Index("ix_outbox_writes_record", "crm", "object_id", "id"),
        Index("ix_outbox_writes_record_key", "record_key", "id"),
        Index("ix_outbox_writes_decision", "decision_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    crm: Crm = Field(sa_column=Column(CrmType(), nullable=False))
    kind: str = Field(sa_column=Column(String(16), nullable=False))
    record_key: str = Field(sa_column=Column(String(128), nullable=False))
    sobject: str = Field(sa_column=Column(String(64), nullable=False))
    object_id: str = Field(sa_column=Column(String(64), nullable=False))
    # Exactly the CRM fields to set (an owner write: the CRM's owner field).
    fields: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    # The owner the record had when we decided (``before_known``: recorded), so that a write
    # sent again tells a change made after the decision from the owner it always had.
    owner_before: str | None = Field(default=None, sa_column=Column(String(64), nullable=True))
    before_known: bool = Field(
        default=False, sa_column=Column(Boolean, nullable=False, server_default=false())
    )
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
