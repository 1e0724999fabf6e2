"""CRM records as the pipeline sees them: read in batches from either CRM, and linked to the
same person's record in the other CRM (by stored ids, else by email)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from app.inbox.hubspot_events import contact_record_key
from app.inbox.salesforce_events import sf_record_key
from app.mappings.fields import (
    HUBSPOT_CONTACT_PROPERTIES,
    HUBSPOT_SALESFORCE_ID_PROPERTIES,
    SALESFORCE_FIELDS,
    LeadField,
)
from connectors.hubspot.port import OWNER_PROPERTY, Contact, HubSpotPort
from connectors.salesforce.port import SalesforcePort, SfRecord

HUBSPOT_PROPERTIES = sorted(
    {*HUBSPOT_CONTACT_PROPERTIES.values(), OWNER_PROPERTY, *HUBSPOT_SALESFORCE_ID_PROPERTIES}
)


def parse_key(key: str) -> tuple[str, str, str]:
    crm, sobject, object_id = key.split(":", 2)
    return crm, sobject, object_id


@dataclass(frozen=True)
class Record:
    key: str
    crm: str  # hubspot | salesforce
    sobject: str  # contact (HubSpot) | Lead | Contact (Salesforce)
    id: str
    lead: dict[LeadField, str | None]
    owner: str | None
    stored_link: str | None = None  # the other CRM's record, from ids the CRMs stored

    @property
    def email(self) -> str | None:
        value = self.lead.get(LeadField.EMAIL)
        return value.strip().lower() if value else None


@dataclass(frozen=True)
class Link:
    other: Record
    method: str  # known | stored_id | email
    note: str | None = None


@dataclass
class Reading:
    records: dict[str, Record] = field(default_factory=dict)
    links: dict[str, Link] = field(default_factory=dict)  # record key -> counterpart


def from_hubspot(contact: Contact) -> Record:
    props = contact.properties
    stored = next(
        (
            sf_record_key(obj, value)
            for p, obj in HUBSPOT_SALESFORCE_ID_PROPERTIES.items()
            if (value := props.get(p)) and len(value) in (15, 18)
        ),
        None,
    )
    return Record(
        key=contact_record_key(contact.id),
        crm="hubspot",
        sobject="contact",
        id=contact.id,
        lead={f: props.get(p) for f, p in HUBSPOT_CONTACT_PROPERTIES.items()},
        owner=props.get(OWNER_PROPERTY),
        stored_link=stored,
    )


def from_salesforce(rec: SfRecord) -> Record:
    fields = SALESFORCE_FIELDS[rec.sobject]
    lead = {
        f: (None if rec.fields.get(n) is None else str(rec.fields[n])) for f, n in fields.items()
    }
    owner = rec.fields.get("OwnerId")
    return Record(
        key=sf_record_key(rec.sobject, rec.id),
        crm="salesforce",
        sobject=rec.sobject,
        id=rec.id,
        lead=lead,
        owner=str(owner) if owner else None,
    )


class RecordReader:
    """Batched reads: one call per CRM object per 100-200 records, never one per record."""

    def __init__(self, hubspot: HubSpotPort, salesforce: SalesforcePort | None) -> None:
        self.hubspot = hubspot
        self.salesforce = salesforce

    def _sf_fields(self, sobject: str) -> list[str]:
        return sorted({*SALESFORCE_FIELDS[sobject].values(), "OwnerId"})

    def read(self, keys: Iterable[str]) -> dict[str, Record]:
        by_kind: dict[tuple[str, str], list[str]] = defaultdict(list)
        for key in keys:
            crm, sobject, object_id = parse_key(key)
            by_kind[(crm, sobject)].append(object_id)
        out: dict[str, Record] = {}
        for (crm, sobject), ids in by_kind.items():
            if crm == "hubspot":
                for contact in self.hubspot.read_contacts(ids, HUBSPOT_PROPERTIES).found.values():
                    rec = from_hubspot(contact)
                    out[rec.key] = rec
            elif self.salesforce is not None and sobject in SALESFORCE_FIELDS:
                found = self.salesforce.read_records(sobject, ids, self._sf_fields(sobject))
                for sf in found.values():
                    rec = from_salesforce(sf)
                    out[rec.key] = rec
        return out

    def link(self, records: Sequence[Record], known: dict[str, str]) -> dict[str, Link]:
        """The other CRM's record of each person: a known link, an id a CRM stored, or the
        email. Several Salesforce records with one email: Contacts before Leads, then the
        oldest; the others are named in the link's note."""
        if self.salesforce is None:
            return {}
        links: dict[str, Link] = {}
        wanted = {r.key: known.get(r.key) or r.stored_link for r in records}
        by_id = self.read([k for k in wanted.values() if k])
        for r in records:
            other_key = wanted[r.key]
            if other_key and other_key in by_id:
                links[r.key] = Link(by_id[other_key], "known" if known.get(r.key) else "stored_id")
        todo = [r for r in records if r.key not in links and r.email]
        hs_side = [r for r in todo if r.crm == "hubspot"]
        sf_side = [r for r in todo if r.crm == "salesforce"]
        if hs_side:
            emails = [r.email for r in hs_side if r.email]
            candidates: dict[str, list[Record]] = defaultdict(list)
            for sobject in ("Contact", "Lead"):
                fields = self._sf_fields(sobject)
                for sf in self.salesforce.find_by_email(sobject, emails, fields):
                    rec = from_salesforce(sf)
                    if rec.email:
                        candidates[rec.email].append(rec)
            for r in hs_side:
                found = candidates.get(r.email or "", [])
                if found:
                    note = None
                    if len(found) > 1:
                        note = (
                            f"{len(found)} Salesforce records share {r.email}: linked the "
                            f"first of {', '.join(c.key for c in found)}"
                        )
                    links[r.key] = Link(found[0], "email", note)
        if sf_side:
            contacts = self.hubspot.read_contacts_by_email(
                [r.email for r in sf_side if r.email], HUBSPOT_PROPERTIES
            )
            for r in sf_side:
                contact = contacts.get(r.email or "")
                if contact is not None:
                    links[r.key] = Link(from_hubspot(contact), "email")
        return links
