"""The phone provider: the number parsed with the lead's country (``country``: a code like FR
or a name like France; FR when absent or unknown), in E.164 when it is a valid number."""

from __future__ import annotations

from collections.abc import Mapping

import phonenumbers

from app.enrichment.base import Found, flag
from app.mappings.fields import LeadField as F
from app.mappings.schemas import PROVIDER_FIELDS

DEFAULT_REGION = "FR"
# Country names as CRMs hold them (English and French), case-folded -> region code; a
# two-letter code is taken as it is.
COUNTRIES = {
    "france": "FR", "belgium": "BE", "belgique": "BE", "switzerland": "CH", "suisse": "CH",
    "luxembourg": "LU", "germany": "DE", "allemagne": "DE", "spain": "ES", "espagne": "ES",
    "italy": "IT", "italie": "IT", "portugal": "PT", "netherlands": "NL", "pays-bas": "NL",
    "united kingdom": "GB", "royaume-uni": "GB", "uk": "GB", "england": "GB",
    "united states": "US", "usa": "US", "états-unis": "US", "etats-unis": "US",
    "canada": "CA", "monaco": "MC", "morocco": "MA", "maroc": "MA", "tunisia": "TN",
    "tunisie": "TN", "algeria": "DZ", "algérie": "DZ", "ireland": "IE", "irlande": "IE",
}  # fmt: skip


def region_of(country: str | None) -> str:
    """The phone region of a ``country`` value; DEFAULT_REGION when absent or unknown."""
    text = (country or "").strip()
    if text.upper() in phonenumbers.SUPPORTED_REGIONS:
        return text.upper()
    return COUNTRIES.get(text.casefold(), DEFAULT_REGION)


class PhoneProvider:
    name = "phone"
    fields = PROVIDER_FIELDS["phone"]

    def enrich(self, lead: Mapping[str, str | None]) -> Found:
        raw = (lead.get(F.PHONE) or "").strip()
        if not raw:
            return {F.PHONE_VALID: flag(False)}
        try:
            number = phonenumbers.parse(raw, region_of(lead.get(F.COUNTRY)))
        except phonenumbers.NumberParseException:
            return {F.PHONE_VALID: flag(False)}
        if not phonenumbers.is_valid_number(number):
            return {F.PHONE_VALID: flag(False)}
        e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
        return {F.PHONE_E164: e164, F.PHONE_VALID: flag(True)}
