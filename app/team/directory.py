"""Reps (one person, identified by email) resolved to each CRM's owner id, cached, refreshed,
and loud about gaps: a rep unknown on one side is logged once per refresh, never skipped
silently."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Mapping

import structlog

from app.records.sources import RecordSource
from connectors.crm import Crm

log = structlog.get_logger("relais.team")


class OwnerDirectory:
    def __init__(
        self,
        sources: Mapping[Crm, RecordSource],
        ttl_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._sources = sources
        self._ttl = ttl_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._ids: dict[Crm, dict[str, str]] = {}  # crm -> email -> owner id
        self._fetched_at: dict[Crm, float] = {}
        self._warned: set[tuple[Crm, str]] = set()

    def _refresh(self, crm: Crm) -> dict[str, str]:
        now = self._clock()
        fetched = self._fetched_at.get(crm)
        if fetched is not None and now - fetched <= self._ttl:
            return self._ids[crm]
        source = self._sources.get(crm)
        if source is None:
            return {}  # a CRM this process is not configured for has no owners to give
        ids = source.owners()
        self._ids[crm], self._fetched_at[crm] = ids, now
        self._warned = {w for w in self._warned if w[0] != crm}
        return ids

    def forget(self) -> None:
        """Read the owners again at the next need (the mappings were reloaded: a rep added to
        team.yaml may be a user created since the last read)."""
        with self._lock:
            self._fetched_at.clear()

    def owner_ids(self, crm: Crm, emails: Iterable[str]) -> dict[str, str]:
        """email -> owner id in ``crm`` for the given reps; unknown reps are logged, left out."""
        with self._lock:
            ids = self._refresh(crm)
            found: dict[str, str] = {}
            for email in emails:
                owner_id = ids.get(email)
                if owner_id is not None:
                    found[email] = owner_id
                elif (crm, email) not in self._warned:
                    self._warned.add((crm, email))
                    log.warning(
                        "team.rep_unknown_in_crm",
                        rep=email,
                        crm=crm,
                        hint=f"create the user in {crm.label} with this email, or fix team.yaml",
                    )
            return found

    def email_of(self, crm: Crm, owner_id: str) -> str | None:
        """The rep email behind a CRM owner id (None when it is not a person we know)."""
        with self._lock:
            ids = self._refresh(crm)
        return next((e for e, i in ids.items() if i == owner_id), None)
