"""The link stage: each record's counterpart in the other CRM (one person across both).

A link already stored, else an id a CRM stored (HubSpot's Salesforce id properties), else the
email. Several Salesforce records with one email: Contacts before Leads, then the oldest; the
others are named in the link's note. Links need both CRMs configured. Reading only: the link is
stored by the persist stage, with the decision it serves.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import Any

from app.links.schemas import Link
from app.records.schemas import FieldMaps, Record, from_hubspot, from_salesforce
from app.records.service import RecordReader
from connectors.crm import Crm, RecordKey
from connectors.hubspot.port import Contact, HubSpotPort
from connectors.salesforce.port import SalesforcePort, SfRecord

EMAIL_SEARCH_ORDER = ("Contact", "Lead")  # a Contact is the person sales already works


class Linker:
    def __init__(self, reader: RecordReader) -> None:
        self.reader = reader

    def link(
        self, records: Sequence[Record], known: dict[RecordKey, RecordKey], maps: FieldMaps
    ) -> dict[RecordKey, Link]:
        """record key -> its counterpart, for the records that have one."""
        hubspot, salesforce = self.reader.hubspot, self.reader.salesforce
        if salesforce is None or hubspot is None:
            return {}
        links = self._by_key(records, known, maps)
        todo = [r for r in records if r.key not in links and r.email]
        links.update(self._by_email(todo, hubspot, salesforce, maps))
        return links

    def _by_key(
        self, records: Sequence[Record], known: dict[RecordKey, RecordKey], maps: FieldMaps
    ) -> dict[RecordKey, Link]:
        wanted = {r.key: known.get(r.key) or r.stored_link for r in records}
        found = self.reader.read([k for k in wanted.values() if k], maps)
        links: dict[RecordKey, Link] = {}
        for key, other in wanted.items():
            if other is not None and other in found:
                links[key] = Link(found[other], "known" if key in known else "stored_id")
        return links

    def _by_email(
        self,
        todo: Sequence[Record],
        hubspot: HubSpotPort,
        salesforce: SalesforcePort,
        maps: FieldMaps,
    ) -> dict[RecordKey, Link]:
        hs_side = [r for r in todo if r.crm is Crm.HUBSPOT]
        sf_side = [r for r in todo if r.crm is Crm.SALESFORCE]
        hs_emails = [r.email for r in hs_side if r.email]
        sf_emails = [r.email for r in sf_side if r.email]
        calls: list[Callable[[], Any]] = [
            lambda sobject=sobject: salesforce.find_by_email(  # type: ignore[misc]
                sobject, hs_emails, maps.salesforce_fields(sobject)
            )
            for sobject in (EMAIL_SEARCH_ORDER if hs_emails else ())
        ]
        if sf_emails:
            calls.append(lambda: hubspot.read_contacts_by_email(sf_emails, maps.hubspot_properties))
        answers = self.reader.parallel.run(calls)
        links: dict[RecordKey, Link] = {}
        if hs_emails:
            links.update(_salesforce_matches(hs_side, answers[: len(EMAIL_SEARCH_ORDER)], maps))
        if sf_emails:
            contacts: dict[str, Contact] = answers[-1]
            for r in sf_side:
                contact = contacts.get(r.email or "")
                if contact is not None:
                    links[r.key] = Link(from_hubspot(contact, maps), "email")
        return links


def _salesforce_matches(
    hs_side: Sequence[Record], answers: Sequence[list[SfRecord]], maps: FieldMaps
) -> dict[RecordKey, Link]:
    candidates: dict[str, list[Record]] = defaultdict(list)
    for found in answers:
        for sf in found:
            rec = from_salesforce(sf, maps)
            if rec.email:
                candidates[rec.email].append(rec)
    links: dict[RecordKey, Link] = {}
    for r in hs_side:
        found_for = candidates.get(r.email or "", [])
        if not found_for:
            continue
        note = None
        if len(found_for) > 1:
            note = (
                f"{len(found_for)} Salesforce records share {r.email}: linked the first of "
                f"{', '.join(str(c.key) for c in found_for)}"
            )
        links[r.key] = Link(found_for[0], "email", note)
    return links
