"""The http provider: the admin's own enrichment service (or a data vendor's). Relais POSTs
the lead's ``send`` fields as a JSON object, with the auth header whose value is read from
the environment, and reads each mapped field from the JSON object answered; answers are kept
in the database for ``cache_ttl_hours``, keyed by the URL, the field map and what was sent.

Any failure (timeout, 4xx, 5xx, an answer over 1 MiB or not whole by the batch's deadline,
one that is not a JSON object, an object where a value is expected) raises: the enricher
records the gap and the lead goes on."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

import httpx

from app.db import Database, utcnow
from app.enrichment import calls
from app.enrichment.base import Found, flag
from app.enrichment.repository import EnrichmentCacheRepository
from app.mappings.schemas import HttpEnrichment


def text(value: Any, path: str) -> str | None:
    """A JSON value as the read stage spells it: true/false, numbers as written, a list's
    items joined by ';' (a list field)."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return flag(value)
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, list) and all(isinstance(v, str | int | float) for v in value):
        return ";".join(str(v) for v in value)
    raise ValueError(f"{path} is {type(value).__name__}, not a value")


def at(answer: Mapping[str, Any], path: str) -> Any:
    """The value at a dotted path of the answer; None when a key is absent."""
    node: Any = answer
    for key in path.split("."):
        if not isinstance(node, Mapping):
            return None
        node = node.get(key)
    return node


class HttpProvider:
    name = "http"

    def __init__(
        self, config: HttpEnrichment, http: httpx.Client, timeout: float, ttl: timedelta,
        db: Database | None, keep: bool = True,
    ) -> None:  # fmt: skip
        self.config = config
        self.fields: tuple[str, ...] = tuple(config.fields)
        self.http = http
        self.timeout = timeout
        self.ttl = ttl
        self.db = db  # None: no cache
        self.keep = keep  # False: the cache is only read (the dry run)

    def enrich(self, lead: Mapping[str, str | None]) -> Found:
        body = {f: lead.get(f) for f in self.config.send}
        if all(v is None or not v.strip() for v in body.values()):
            return {}  # nothing to ask about
        key = hashlib.sha256(
            json.dumps([self.config.url, self.config.fields, body], sort_keys=True).encode()
        ).hexdigest()
        if (cached := self._cached(key)) is not None:
            return cached
        until = calls.deadline(self.timeout)
        answer = calls.fetch_json(
            self.http, "POST", self.config.url, until, json=body, headers=self._headers()
        )
        if not isinstance(answer, dict):
            raise ValueError(f"the answer is a JSON {type(answer).__name__}, not an object")
        found = {f: text(at(answer, path), path) for f, path in self.config.fields.items()}
        if self.db is not None and self.keep:
            with self.db.transaction() as session:
                EnrichmentCacheRepository(session).keep(self.name, key, found, utcnow())
        return found

    def _headers(self) -> dict[str, str]:
        auth = self.config.auth
        if auth is None:
            return {}
        value = os.environ.get(auth.env)
        if not value:  # checked when the mappings load; unset since: say so, as a gap
            raise LookupError(f"the environment variable {auth.env} is not set")
        return {auth.header: value}

    def _cached(self, key: str) -> Found | None:
        if self.db is None:
            return None
        with self.db.transaction() as session:
            return EnrichmentCacheRepository(session).fresh(self.name, key, utcnow() - self.ttl)
