"""The SIREN provider: the check digits (Luhn) of the French company (SIREN, 9 digits) and
establishment (SIRET, 14 digits) numbers; a valid SIRET gives the SIREN when it is missing."""

from __future__ import annotations

from collections.abc import Mapping

from stdnum.fr import siren, siret

from app.enrichment.base import Found, flag
from app.mappings.fields import LeadField as F
from app.mappings.schemas import PROVIDER_FIELDS


class SirenProvider:
    name = "siren"
    fields = PROVIDER_FIELDS["siren"]

    def enrich(self, lead: Mapping[str, str | None]) -> Found:
        found: Found = {}
        number: str | None = None  # the valid SIRET
        raw_siret = lead.get(F.SIRET)
        if raw_siret and raw_siret.strip():
            valid = siret.is_valid(raw_siret)
            found[F.SIRET_VALID] = flag(valid)
            if valid:
                number = found[F.SIRET] = siret.compact(raw_siret)
        raw_siren = lead.get(F.SIREN)
        if raw_siren and raw_siren.strip():
            valid = siren.is_valid(raw_siren)
            found[F.SIREN_VALID] = flag(valid)
            if valid:
                found[F.SIREN] = siren.compact(raw_siren)
        elif number is not None:  # a valid SIRET starts with its company's SIREN
            found[F.SIREN] = number[:9]
            found[F.SIREN_VALID] = flag(True)
        return found
