"""What every enrichment provider is: a name, the canonical fields it produces, and a function
of the lead's canonical fields."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

Found = dict[str, str | None]  # canonical field -> value as a CRM would spell it (true/false)


class Provider(Protocol):
    name: str
    fields: tuple[str, ...]  # the only fields it may set

    def enrich(self, lead: Mapping[str, str | None]) -> Found:
        """The values found for this lead; None: not found (it never erases a known value).
        May raise: the enricher records the failure as a gap and the lead goes on."""
        ...


def flag(value: bool) -> str:
    """A boolean as the read stage spells it (``app/records/schemas.py`` ``normalised``)."""
    return "true" if value else "false"


def replaced(field: str) -> str:
    """The lead key that keeps the CRM's value of a field enrichment replaced (None: the CRM's
    was empty): the value a person may have entered, which write-back leaves alone unless
    sync.yaml allows it. Not a field name (field names have no '.'): no rule can read it."""
    return f"crm.{field}"
