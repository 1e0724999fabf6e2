"""The register provider: the French public company register, "Recherche d'entreprises"
(https://recherche-entreprises.api.gouv.fr, no key), asked for a lead's SIREN (or its
SIRET's) when the check digits hold; answers kept in the database for ``cache_ttl_hours``.

Any failure (timeout, 429, 5xx, a body not in the documented format) raises: the enricher
records the gap and the lead goes on. A SIREN the register does not know is an answer (no
fields), kept like the others."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

import httpx
from stdnum.fr import siren, siret

from app.db import Database, utcnow
from app.enrichment.base import Found, flag
from app.enrichment.repository import EnrichmentCacheRepository
from app.mappings.fields import LeadField as F
from app.mappings.schemas import PROVIDER_FIELDS

URL = "https://recherche-entreprises.api.gouv.fr/search"
# etat_administratif: A (active) or C (ceased, "cessée").
ACTIVE, CEASED = "A", "C"


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
    ) -> None:
        self.http = http
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
        response = self.http.get(URL, params={"q": number}, timeout=self.timeout)
        response.raise_for_status()  # 429 and 5xx: a gap, the lead goes on without
        found = fields_of(response.json(), number)
        if self.db is not None and self.keep:
            with self.db.transaction() as session:
                EnrichmentCacheRepository(session).keep(self.name, number, found, utcnow())
        return found

    def _cached(self, number: str) -> Found | None:
        if self.db is None:
            return None
        with self.db.transaction() as session:
            return EnrichmentCacheRepository(session).fresh(self.name, number, utcnow() - self.ttl)
