"""CRM records as the pipeline sees them: read in batches from either CRM, and linked to the
same person's record in the other CRM (by stored ids, else by email)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

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
from connectors.salesforce_ids import to18

T = TypeVar("T")


@dataclass(frozen=True)
class FieldMaps:
    """Which CRM property or field feeds each canonical lead field (fields.yaml)."""

    hubspot: dict[LeadField, str]
    salesforce: dict[str, dict[LeadField, str]]  # sobject -> field map
    # field -> (crm -> CRM value (case-folded) -> canonical value, default): values.yaml
    values: dict[LeadField, tuple[dict[str, dict[str, str]], str]] = field(default_factory=dict)

    def canonical(self, crm: str, lead: dict[LeadField, str | None]) -> dict[LeadField, str | None]:
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
        return sorted({*self.salesforce.get(sobject, {}).values(), "OwnerId", "Email"})


DEFAULT_MAPS = FieldMaps(dict(HUBSPOT_CONTACT_PROPERTIES), dict(SALESFORCE_FIELDS))


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


def from_hubspot(contact: Contact, maps: FieldMaps = DEFAULT_MAPS) -> Record:
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
        lead=maps.canonical(
            "hubspot",
            {f: props.get(p) for f, p in maps.hubspot.items()}
            | {LeadField.EMAIL: props.get(maps.hubspot.get(LeadField.EMAIL, "email"))},
        ),
        owner=props.get(OWNER_PROPERTY),
        stored_link=stored,
    )


def from_salesforce(rec: SfRecord, maps: FieldMaps = DEFAULT_MAPS) -> Record:
    fields = {LeadField.EMAIL: "Email", **maps.salesforce.get(rec.sobject, {})}
    lead = maps.canonical(
        "salesforce",
        {f: (None if rec.fields.get(n) is None else str(rec.fields[n])) for f, n in fields.items()},
    )
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
    """Batched reads: one call per CRM object per 100-200 records, never one per record.
    Calls that do not depend on each other run in parallel (latency is the sum of round trips
    otherwise)."""

    def __init__(self, hubspot: HubSpotPort | None, salesforce: SalesforcePort | None) -> None:
        self.hubspot = hubspot
        self.salesforce = salesforce
        self.maps = DEFAULT_MAPS  # the pipeline sets the active mappings' maps on each batch
        self._pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="crm-read")

    def _parallel(self, calls: list[Callable[[], T]]) -> list[T]:
        if len(calls) <= 1:
            return [c() for c in calls]
        return [f.result() for f in [self._pool.submit(c) for c in calls]]

    def _sf_fields(self, sobject: str) -> list[str]:
        return self.maps.salesforce_fields(sobject)

    def read(
        self, keys: Iterable[str], delivered: dict[str, dict[str, Any]] | None = None
    ) -> dict[str, Record]:
        """Records by key. ``delivered``: field values a Salesforce notification carried (an
        Outbound Message sends the record's latest values); when they cover every field we
        use, the record is not read again."""
        by_kind: dict[tuple[str, str], list[str]] = defaultdict(list)
        known: dict[str, Record] = {}
        for key in keys:
            crm, sobject, object_id = parse_key(key)
            fields = (delivered or {}).get(key)
            if (
                crm == "salesforce"
                and sobject in ("Lead", "Contact")
                and fields is not None
                and (set(self._sf_fields(sobject)) <= set(fields))
            ):
                known[key] = from_salesforce(SfRecord(to18(object_id), sobject, fields), self.maps)
                continue
            by_kind[(crm, sobject)].append(object_id)
        calls: list[Callable[[], list[Record]]] = []
        for (crm, sobject), ids in by_kind.items():
            if crm == "hubspot" and self.hubspot is not None:
                hs = self.hubspot
                calls.append(
                    lambda ids=ids, hs=hs: [  # type: ignore[misc]
                        from_hubspot(c, self.maps)
                        for c in hs.read_contacts(ids, self.maps.hubspot_properties).found.values()
                    ]
                )
            elif self.salesforce is not None and sobject in ("Lead", "Contact"):
                sf = self.salesforce
                calls.append(
                    lambda sobject=sobject, ids=ids, sf=sf: [  # type: ignore[misc]
                        from_salesforce(r, self.maps)
                        for r in sf.read_records(sobject, ids, self._sf_fields(sobject)).values()
                    ]
                )
        known.update({rec.key: rec for batch in self._parallel(calls) for rec in batch})
        return known

    def link(self, records: Sequence[Record], known: dict[str, str]) -> dict[str, Link]:
        """The other CRM's record of each person: a known link, an id a CRM stored, or the
        email. Several Salesforce records with one email: Contacts before Leads, then the
        oldest; the others are named in the link's note. Links need both CRMs configured."""
        if self.salesforce is None or self.hubspot is None:
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
        salesforce = self.salesforce
        hs_emails = [r.email for r in hs_side if r.email]
        sf_emails = [r.email for r in sf_side if r.email]
        calls: list[Callable[[], Any]] = []
        if hs_emails:
            for sobject in ("Contact", "Lead"):
                calls.append(
                    lambda sobject=sobject: salesforce.find_by_email(  # type: ignore[misc]
                        sobject, hs_emails, self._sf_fields(sobject)
                    )
                )
        if sf_emails:
            hubspot = self.hubspot
            calls.append(
                lambda: hubspot.read_contacts_by_email(sf_emails, self.maps.hubspot_properties)
            )
        answers = self._parallel(calls)
        if hs_side:
            candidates: dict[str, list[Record]] = defaultdict(list)
            for found_sf in answers[:2] if hs_emails else []:
                for sf in found_sf:
                    rec = from_salesforce(sf, self.maps)
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
        if sf_emails:
            contacts: dict[str, Contact] = answers[-1]
            for r in sf_side:
                contact = contacts.get(r.email or "")
                if contact is not None:
                    links[r.key] = Link(from_hubspot(contact, self.maps), "email")
        return links
