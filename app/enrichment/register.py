"""The register provider: the French public company register, "Recherche d'entreprises"
(https://recherche-entreprises.api.gouv.fr, no key), asked for a lead's SIREN (or its
SIRET's) when the check digits hold; answers kept in the database for ``cache_ttl_hours``.

A 429 (the register's rate limit) or a 502/503/504 is asked again, at most twice, waiting what
Retry-After says when it fits in the time left (else not waiting: the gap says so). Any other
failure, or those still there, raises: the enricher records the gap and the lead goes on.
A SIREN the register does not know is an answer (no fields), kept like the others."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any, NoReturn

import httpx
from stdnum.fr import siren, siret
from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt
from tenacity.stop import stop_base

from app.db import Database, utcnow
from app.enrichment import calls
from app.enrichment.base import Found, flag
from app.enrichment.repository import EnrichmentCacheRepository
from app.mappings.fields import LeadField as F
from app.mappings.schemas import PROVIDER_FIELDS

URL = "https://recherche-entreprises.api.gouv.fr/search"
# etat_administratif: A (active) or C (ceased, "cessée").
ACTIVE, CEASED = "A", "C"
# Asked again: its rate limit (429) and a gateway or server briefly down; not 500 (a bug there
# answers the same again) nor 4xx (our question is wrong).
RETRIED = frozenset({429, 502, 503, 504})
ATTEMPTS = 3
BACKOFF = 0.2  # seconds before the 2nd attempt without Retry-After; doubled before the 3rd


def retry_after(response: httpx.Response) -> float | None:
    """What Retry-After asks to wait, in seconds (a number or an HTTP date); None without it."""
    value = response.headers.get("retry-after", "").strip()
    if value.isdigit():
        return float(value)
    try:
        at = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (at - datetime.now(UTC)).total_seconds()) if at.tzinfo else None


def _retried(error: BaseException) -> bool:
    return isinstance(error, httpx.HTTPStatusError) and error.response.status_code in RETRIED


def _wait(state: RetryCallState) -> float:
    error = state.outcome.exception() if state.outcome else None
    asked = retry_after(error.response) if isinstance(error, httpx.HTTPStatusError) else None
    return asked if asked is not None else BACKOFF * 2 ** (state.attempt_number - 1)


class _Past(stop_base):
    """Stops when the wait before the next attempt would end past ``until``."""

    def __init__(self, until: float) -> None:
        self.until = until

    def __call__(self, retry_state: RetryCallState) -> bool:
        return retry_state.upcoming_sleep >= self.until - time.monotonic()


def _give_up(until: float) -> Callable[[RetryCallState], NoReturn]:
    """Raises the last answer's error, saying why it was not asked again."""

    def give_up(state: RetryCallState) -> NoReturn:
        error = state.outcome.exception() if state.outcome else None
        assert isinstance(error, httpx.HTTPStatusError), "only status errors are retried"
        why = f"attempts: {state.attempt_number}"
        if state.upcoming_sleep >= until - time.monotonic():
            why += f"; asked to wait {state.upcoming_sleep:g} s, past the deadline: not waited"
        first = str(error).splitlines()[0]
        raise httpx.HTTPStatusError(
            f"{first} ({why})", request=error.request, response=error.response
        ) from error

    return give_up


def siren_of(lead: Mapping[str, str | None]) -> str | None:
    """The lead's SIREN when its check digits hold, else its valid SIRET's first nine."""
    raw = lead.get(F.SIREN)
    if raw and siren.is_valid(raw):
        return siren.compact(raw)
    raw = lead.get(F.SIRET)
    if raw and siret.is_valid(raw):
        return siret.compact(raw)[:9]
    return None


def fields_of(body: Any, number: str) -> Found:
    """The fields of the result for ``number`` in a search response; none when absent.
    Raises ValueError when the body is not a search response."""
    if not isinstance(body, dict) or not isinstance(body.get("results"), list):
        raise ValueError("not a search response (no results list)")
    match = next(
        (r for r in body["results"] if isinstance(r, dict) and r.get("siren") == number), None
    )
    if match is None:
        return {}
    state = match.get("etat_administratif")
    return {
        F.COMPANY_ACTIVE: flag(state == ACTIVE) if state in (ACTIVE, CEASED) else None,
        F.NAF_CODE: match.get("activite_principale"),
        F.NAF_SECTION: match.get("section_activite_principale"),
        F.HEADCOUNT_BAND: match.get("tranche_effectif_salarie"),
        F.LEGAL_CATEGORY: match.get("nature_juridique"),
    }


class RegisterProvider:
    name = "register"
    fields = PROVIDER_FIELDS["register"]

    def __init__(
        self,
        http: httpx.Client,
        timeout: float,
        ttl: timedelta,
        db: Database | None,
        keep: bool = True,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.http = http
        self.sleep = sleep  # between attempts (tests record it)
        self.timeout = timeout
        self.ttl = ttl
        self.db = db  # None: no cache (every lead asks the register)
        self.keep = keep  # False: the cache is only read (the dry run)

    def enrich(self, lead: Mapping[str, str | None]) -> Found:
        number = siren_of(lead)
        if number is None:
            return {}
        cached = self._cached(number)
        if cached is not None:
            return cached
        found = fields_of(self._ask(number), number)
        if self.db is not None and self.keep:
            with self.db.transaction() as session:
                EnrichmentCacheRepository(session).keep(self.name, number, found, utcnow())
        return found

    def _ask(self, number: str) -> Any:
        """The search's JSON, asked again on a RETRIED status while the wait fits the time left."""
        until = calls.deadline(self.timeout)
        retrying = Retrying(
            retry=retry_if_exception(_retried),
            wait=_wait,
            stop=stop_after_attempt(ATTEMPTS) | _Past(until),
            retry_error_callback=_give_up(until),
            sleep=self.sleep,
        )
        # URL read at each call: tests point it at a local server.
        return retrying(calls.fetch_json, self.http, "GET", URL, until, params={"q": number})

    def _cached(self, number: str) -> Found | None:
        if self.db is None:
            return None
        with self.db.transaction() as session:
            return EnrichmentCacheRepository(session).fresh(self.name, number, utcnow() - self.ttl)
