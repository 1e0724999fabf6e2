"""CRM records as the stages see them: the lead's canonical fields, its owner, its key."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from app.mappings import typed
from app.mappings.fields import (
    BUILTIN_TYPES,
    HUBSPOT_SALESFORCE_ID_PROPERTIES,
    FieldType,
    LeadField,
)
from app.mappings.loader import Mappings
from connectors.crm import SALESFORCE_OBJECTS, Crm, RecordKey
from connectors.hubspot.port import OWNER_PROPERTY, Contact
from connectors.salesforce.port import OWNER_FIELD, SfRecord

Lead = dict[str, str | None]  # canonical field name -> value (built-in or declared field)


@dataclass(frozen=True)
class FieldMaps:
    """Which CRM property or field feeds each canonical lead field (fields.yaml)."""

    hubspot: dict[str, str]
    salesforce: dict[str, dict[str, str]]  # sobject -> field map
    # field -> (crm -> CRM value (case-folded) -> canonical value, default): values.yaml
    values: dict[str, tuple[dict[str, dict[str, str]], str]] = field(default_factory=dict)
    types: dict[str, FieldType] = field(default_factory=lambda: dict(BUILTIN_TYPES))

    @classmethod
    def of(cls, m: Mappings) -> FieldMaps:
        """The maps of one mappings version."""
        return cls(
            m.hubspot_properties(),
            {sobject: m.salesforce_fields(sobject) for sobject in SALESFORCE_OBJECTS},
            m.value_maps(),
            dict(m.field_types()),
        )

    def canonical(self, crm: Crm, lead: Lead) -> Lead:
        """The lead with mapped picklist values turned canonical (unknown ones: the default),
        booleans as true/false and instants as ISO 8601, whichever CRM they come from."""
        out = dict(lead)
        for f, (by_crm, default) in self.values.items():
            raw = out.get(f)
            if raw is not None:
                out[f] = by_crm.get(crm, {}).get(raw.casefold(), default)
        for f, raw in out.items():
            if raw is not None:
                out[f] = normalised(self.types.get(f, "text"), raw)
        return out

    @property
    def hubspot_properties(self) -> list[str]:
        return sorted(
            {*self.hubspot.values(), OWNER_PROPERTY, *HUBSPOT_SALESFORCE_ID_PROPERTIES, "email"}
        )

    def salesforce_fields(self, sobject: str) -> list[str]:
        return sorted({*self.salesforce.get(sobject, {}).values(), OWNER_FIELD, "Email"})


def normalised(kind: FieldType, raw: str) -> str:
    """One spelling per value whatever the CRM: HubSpot says ``true``, Salesforce ``True``;
    HubSpot may give an instant in epoch milliseconds. A value that does not read as its type
    is kept as it came (conditions then treat it as unreadable)."""
    if kind == "boolean":
        value = typed.read("boolean", raw)
        return raw if value is None else ("true" if value else "false")
    if kind in ("date", "datetime"):
        instant: datetime | None = typed.read(kind, raw)
        if instant is None:
            return raw
        return instant.date().isoformat() if kind == "date" else instant.isoformat()
    return raw


@dataclass(frozen=True)
class Record:
    key: RecordKey
    lead: Lead
    owner: str | None  # the owner id the CRM shows
    stored_link: RecordKey | None = None  # the other CRM's record, from ids the CRMs stored

    @property
    def crm(self) -> Crm:
        return self.key.crm

    @property
    def email(self) -> str | None:
        value = self.lead.get(LeadField.EMAIL)
        return value.strip().lower() if value else None


def from_hubspot(contact: Contact, maps: FieldMaps) -> Record:
    props = contact.properties
    stored = next(
        (
            RecordKey.salesforce(obj, value)
            for p, obj in HUBSPOT_SALESFORCE_ID_PROPERTIES.items()
            if (value := props.get(p)) and len(value) in (15, 18)
        ),
        None,
    )
    return Record(
        key=RecordKey.hubspot(contact.id),
        lead=maps.canonical(
            Crm.HUBSPOT,
            {f: props.get(p) for f, p in maps.hubspot.items()}
            | {LeadField.EMAIL: props.get(maps.hubspot.get(LeadField.EMAIL, "email"))},
        ),
        owner=props.get(OWNER_PROPERTY),
        stored_link=stored,
    )


def from_salesforce(rec: SfRecord, maps: FieldMaps) -> Record:
    fields = {LeadField.EMAIL: "Email", **maps.salesforce.get(rec.sobject, {})}
    lead = maps.canonical(
        Crm.SALESFORCE,
        {f: (None if rec.fields.get(n) is None else str(rec.fields[n])) for f, n in fields.items()},
    )
    owner = rec.fields.get(OWNER_FIELD)
    return Record(
        key=RecordKey.salesforce(rec.sobject, rec.id),
        lead=lead,
        owner=str(owner) if owner else None,
    )
