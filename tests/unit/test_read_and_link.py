"""The read and link stages on the in-memory CRMs: no database, no HTTP."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import pytest

from app.links.service import Linker
from app.mappings.fields import LeadField
from app.mappings.loader import load_mappings
from app.records.schemas import FieldMaps, Record
from app.records.service import RecordReader
from app.records.sources import Parallel, record_sources
from connectors.crm import RecordKey
from connectors.hubspot.fake import InMemoryHubSpot
from connectors.salesforce.fake import InMemorySalesforce

MAPS = FieldMaps.of(load_mappings(Path(__file__).parents[2] / "mappings"))


class TitleCase:
    """An enricher for the test: what any enricher does, visibly."""

    def enrich(self, records: Sequence[Record]) -> list[Record]:
        return [
            replace(
                r, lead={**r.lead, LeadField.TITLE: (r.lead.get(LeadField.TITLE) or "").title()}
            )
            for r in records
        ]


@pytest.fixture
def crms() -> tuple[InMemoryHubSpot, InMemorySalesforce]:
    return InMemoryHubSpot(), InMemorySalesforce()


def reader(crms: tuple[InMemoryHubSpot, InMemorySalesforce], *enrichers: TitleCase) -> RecordReader:
    return RecordReader(record_sources(*crms), Parallel(), enrichers)


def test_records_of_both_crms_are_read_in_one_batch_call_each(
    crms: tuple[InMemoryHubSpot, InMemorySalesforce],
) -> None:
    hs, sf = crms
    contacts = hs.create_contacts([{"email": f"c{i}@x.fr"} for i in range(3)])
    [lead] = sf.create_records("Lead", [{"Email": "l@x.fr", "LastName": "L"}])
    keys = [RecordKey.hubspot(c) for c in contacts] + [RecordKey.salesforce("Lead", lead)]
    found = reader(crms).read([*keys, RecordKey.hubspot("404")], MAPS)
    assert sorted(found) == sorted(keys)  # the missing one is absent, not an error
    assert found[keys[-1]].email == "l@x.fr"
    assert hs.calls("read_contacts") == 1 and sf.calls("read_records") == 1


def test_values_a_notification_carried_spare_the_read(
    crms: tuple[InMemoryHubSpot, InMemorySalesforce],
) -> None:
    _, sf = crms
    key = RecordKey.salesforce("Lead", "00Q000000000001")
    fields = {name: None for name in MAPS.salesforce_fields("Lead")} | {"Email": "n@x.fr"}
    found = reader(crms).read([key], MAPS, {key: fields})
    assert found[key].email == "n@x.fr" and sf.calls("read_records") == 0


def test_every_record_read_or_linked_goes_through_the_enrichers(
    crms: tuple[InMemoryHubSpot, InMemorySalesforce],
) -> None:
    hs, sf = crms
    [cid] = hs.create_contacts([{"email": "p@x.fr", "jobtitle": "directeur financier"}])
    sf.create_records("Contact", [{"Email": "p@x.fr", "LastName": "P", "Title": "daf"}])
    r = reader(crms, TitleCase())
    [record] = r.read([RecordKey.hubspot(cid)], MAPS).values()
    assert record.lead[LeadField.TITLE] == "Directeur Financier"
    [link] = Linker(r).link([record], {}, MAPS).values()
    assert link.method == "email" and link.other.lead[LeadField.TITLE] == "Daf"
