"""The link stage: each record's counterpart in the other CRM (one person across both).

A link already stored, else an id a CRM stored (HubSpot's Salesforce id properties), else the
email. Several records with one email: the first the other CRM's source gives (Salesforce:
Contacts before Leads, then the oldest); the others are named in the link's note. Links need
both CRMs configured. Reading only: the link is stored by the persist stage, with the decision
it serves.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import replace

from app.links.schemas import Link
from app.records.schemas import FieldMaps, Record
from app.records.service import RecordReader
from connectors.crm import Crm, RecordKey

# Where the same person's other record lives: links join exactly two CRMs.
OTHER_CRM = {Crm.HUBSPOT: Crm.SALESFORCE, Crm.SALESFORCE: Crm.HUBSPOT}


class Linker:
    def __init__(self, reader: RecordReader) -> None:
        self.reader = reader

    def link(
        self, records: Sequence[Record], known: dict[RecordKey, RecordKey], maps: FieldMaps
    ) -> dict[RecordKey, Link]:
        """record key -> its counterpart, for the records that have one."""
        if any(crm not in self.reader.sources for crm in Crm):
            return {}
        links = self._by_key(records, known, maps)
        todo = [r for r in records if r.key not in links and r.email]
        links.update(self._by_email(todo, maps))
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

    def _by_email(self, todo: Sequence[Record], maps: FieldMaps) -> dict[RecordKey, Link]:
        by_crm: dict[Crm, list[Record]] = defaultdict(list)
        for r in todo:
            by_crm[r.crm].append(r)
        sides = list(by_crm.items())
        answers = self.reader.parallel.run(
            [
                lambda crm=crm, rs=rs: self.reader.sources[OTHER_CRM[crm]].find_by_email(  # type: ignore[misc]
                    [r.email for r in rs if r.email], maps
                )
                for crm, rs in sides
            ]
        )
        links: dict[RecordKey, Link] = {}
        for (_, records), found in zip(sides, answers, strict=True):
            for r in records:
                matches = found.get(r.email or "", [])
                if matches:
                    links[r.key] = Link(matches[0], "email", _note(r, matches))
        enriched = self.reader.enrich({link.other.key: link.other for link in links.values()})
        return {k: replace(link, other=enriched[link.other.key]) for k, link in links.items()}


def _note(record: Record, matches: Sequence[Record]) -> str | None:
    if len(matches) < 2:
        return None
    return (
        f"{len(matches)} {matches[0].crm.label} records share {record.email}: linked the first "
        f"of {', '.join(str(m.key) for m in matches)}"
    )
