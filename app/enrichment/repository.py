"""The enrichment cache: providers' answers kept in the database with their time."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from app.enrichment.models import EnrichmentCacheEntry


class EnrichmentCacheRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def fresh(self, provider: str, key: str, since: datetime) -> dict[str, Any] | None:
        """The answer kept for (provider, key) if fetched at or after ``since``."""
        entry = self.session.get(EnrichmentCacheEntry, (provider, key))
        if entry is None or entry.fetched_at < since:
            return None
        return dict(entry.value)

    def keep(self, provider: str, key: str, value: dict[str, Any], now: datetime) -> None:
        """Keep (or replace) the answer for (provider, key)."""
        entry = self.session.get(EnrichmentCacheEntry, (provider, key))
        if entry is None:
            self.session.add(
                EnrichmentCacheEntry(provider=provider, key=key, value=value, fetched_at=now)
            )
        else:
            entry.value, entry.fetched_at = value, now
            self.session.add(entry)
