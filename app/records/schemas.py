"""CRM records as the stages see them: the lead's canonical fields, its owner, its key."""

from __future__ import annotations

from dataclasses import dataclass, field

from app.mappings.fields import HUBSPOT_SALESFORCE_ID_PROPERTIES, LeadField
from app.mappings.loader import Mappings
from connectors.crm import SALESFORCE_OBJECTS, Crm, RecordKey
from connectors.hubspot.port import OWNER_PROPERTY, Contact
from connectors.salesforce.port import OWNER_FIELD, SfRecord

Lead = dict[LeadField, str | None]


@dataclass(frozen=True)
class FieldMaps:
    """Which CRM property or field feeds each canonical lead field (fields.yaml)."""

    hubspot: dict[LeadField, str]
    salesforce: dict[str, dict[LeadField, str]]  # sobject -> field map
    # field -> (crm -> CRM value (case-folded) -> canonical value, default): values.yaml
    values: dict[LeadField, tuple[dict[str, dict[str, str]], str]] = field(default_factory=dict)

    @classmethod
    def of(cls, m: Mappings) -> FieldMaps:
        """The maps of one mappings version."""
        return cls(
            m.hubspot_properties(),
            {sobject: m.salesforce_fields(sobject) for sobject in SALESFORCE_OBJECTS},
            m.value_maps(),
        )

    def canonical(self, crm: Crm, lead: Lead) -> Lead:
        """The lead with mapped picklist values turned canonical (unknown ones: the default)."""
        out = dict(lead)
        for f, (by_crm, default) in self.values.items():
            raw = out.get(f)
            if raw is not None:
                out[f] = by_crm.get(crm, {}).get(raw.casefold(), default)
        return out

    @property
    def hubspot_properties(self) -> list[str]:
        return sorted(
            {*self.hubspot.values(), OWNER_PROPERTY, *HUBSPOT_SALESFORCE_ID_PROPERTIES, "email"}
        )

    def salesforce_fields(self, sobject: str) -> list[str]:
        return sorted({*self.salesforce.get(sobject, {}).values(), OWNER_FIELD, "Email"})


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
