"""Enriched values written back to the CRMs (sync.yaml's ``enrichment``): pure, over the lead
the read stage enriched. Only the fields sync.yaml names, to the objects it names, at the
property or field fields.yaml maps them to; only a value the enrichment changed; and over a
value the CRM already held (a value a person entered) only with ``overwrite: true``."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from app.enrichment.base import replaced
from app.mappings.loader import Mappings
from app.mappings.schemas import Sync
from app.records.schemas import Record
from connectors.crm import Crm, RecordKey

# Where a CRM object's canonical fields live (fields.yaml, else the standard names): written
# back where they are read, so the CRM's current value is known.
PROPERTIES: dict[Crm, Callable[[Mappings, str], dict[str, str]]] = {
    Crm.HUBSPOT: lambda m, _sobject: m.hubspot_properties(),
    Crm.SALESFORCE: lambda m, sobject: m.salesforce_fields(sobject),
}


def enriched_values(
    lead: Mapping[str, str | None], key: RecordKey, sync: Sync, properties: Mapping[str, str]
) -> dict[str, str | None]:
    """Property or field -> value to write to the record ``key``. ``lead``: as enriched, with
    the CRM's value of each field enrichment changed beside it (``base.replaced``);
    ``properties``: canonical field -> this object's property or field."""
    out: dict[str, str | None] = {}
    for entry in sync.enrichment:
        name = properties.get(entry.field)
        kept = replaced(entry.field)
        if name is None or kept not in lead or not entry.writes_to(key.crm, key.sobject):
            continue  # not written there, or the enrichment left the CRM's value as it was
        value, current = lead.get(entry.field), lead[kept]
        if value is None or value == current:
            continue
        if current is not None and current.strip() and not entry.overwrite:
            continue  # a value the CRM holds: maybe a person's, kept unless allowed
        out[name] = value
    return out


def writes(record: Record, m: Mappings) -> dict[str, str | None]:
    """``enriched_values`` for one record read and enriched, with the mappings' maps."""
    properties = PROPERTIES[record.crm](m, record.key.sobject)
    return enriched_values(record.lead, record.key, m.sync, properties)
