"""Resolve reps (by email) to HubSpot owner ids, cached, refreshed, and loud about gaps."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable

import structlog

from connectors.hubspot.port import HubSpotPort

log = structlog.get_logger("relais.team")


class OwnerDirectory:
    def __init__(
        self, hubspot: HubSpotPort, ttl_seconds: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._hubspot = hubspot
        self._ttl = ttl_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._owners: dict[str, str] = {}
        self._fetched_at: float | None = None
        self._warned: set[str] = set()

    def invalidate(self) -> None:
        with self._lock:
            self._fetched_at = None

    def hubspot_owner_ids(self, emails: Iterable[str]) -> dict[str, str]:
        """email -> owner id for the given reps; reps HubSpot does not know are left out."""
        with self._lock:
            now = self._clock()
            if self._fetched_at is None or now - self._fetched_at > self._ttl:
                self._owners = {
                    o.email: o.id for o in self._hubspot.list_owners() if not o.archived
                }
                self._fetched_at = now
                self._warned.clear()
            found: dict[str, str] = {}
            for email in emails:
                owner_id = self._owners.get(email)
                if owner_id is not None:
                    found[email] = owner_id
                elif email not in self._warned:
                    self._warned.add(email)
                    log.warning(
                        "team.rep_without_hubspot_owner",
                        rep=email,
                        hint="create the user in HubSpot or fix the email in team.yaml",
                    )
            return found
