from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, String
from sqlmodel import Field, SQLModel

from app.db import UTCDateTime


class EnrichmentCacheEntry(SQLModel, table=True):
    """A provider's answer for a key (the register's for a SIREN), reused until it is older
    than enrichment.yaml's ``cache_ttl_hours``."""

    __tablename__ = "enrichment_cache"

    provider: str = Field(sa_column=Column(String(32), primary_key=True))
    key: str = Field(sa_column=Column(String(128), primary_key=True))
    value: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    fetched_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
