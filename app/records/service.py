"""The read stage: CRM records in batches (one call per CRM object per 100-200 records, never
one per record), calls that do not depend on each other in parallel, then the enrichers."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol, TypeVar

from app.records.schemas import FieldMaps, Record, from_hubspot, from_salesforce
from connectors.crm import SALESFORCE_OBJECTS, Crm, RecordKey
from connectors.hubspot.port import HubSpotPort
from connectors.salesforce.port import SalesforcePort, SfRecord

T = TypeVar("T")


class Enricher(Protocol):
    """Adds what the CRMs do not hold (firmographics, a normalised phone, ...) to a record.
    None is registered yet: enrichment comes with qualification and plugs in here."""

    def enrich(self, records: Sequence[Record]) -> list[Record]: ...


class Parallel:
    """Runs independent CRM calls at once: latency is one round trip, not the sum."""

    def __init__(self, workers: int = 4, name: str = "crm-read") -> None:
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=name)

    def run(self, calls: Sequence[Callable[[], T]]) -> list[T]:
        if len(calls) <= 1:
            return [c() for c in calls]
        return [f.result() for f in [self._pool.submit(c) for c in calls]]


class RecordReader:
    def __init__(
        self,
        hubspot: HubSpotPort | None,
        salesforce: SalesforcePort | None,
        enrichers: Sequence[Enricher] = (),
        parallel: Parallel | None = None,
    ) -> None:
        self.hubspot = hubspot
        self.salesforce = salesforce
        self.enrichers = tuple(enrichers)
        self.parallel = parallel or Parallel()

    def read(
        self,
        keys: Iterable[RecordKey],
        maps: FieldMaps,
        delivered: dict[RecordKey, dict[str, Any]] | None = None,
    ) -> dict[RecordKey, Record]:
        """Records by key; absent: not found (or a CRM this process is not configured for).
        ``delivered``: field values a Salesforce notification carried (an Outbound Message
        sends the record's latest values); when they cover every field we use, the record is
        not read again."""
        by_kind: dict[tuple[Crm, str], list[str]] = defaultdict(list)
        found: dict[RecordKey, Record] = {}
        for key in keys:
            fields = (delivered or {}).get(key)
            if (
                key.crm is Crm.SALESFORCE
                and key.sobject in SALESFORCE_OBJECTS
                and fields is not None
                and set(maps.salesforce_fields(key.sobject)) <= set(fields)
            ):
                found[key] = from_salesforce(SfRecord(key.id, key.sobject, fields), maps)
                continue
            by_kind[(key.crm, key.sobject)].append(key.id)
        calls = [
            call
            for (crm, sobject), ids in by_kind.items()
            if (call := self._batch_call(crm, sobject, ids, maps)) is not None
        ]
        found.update({rec.key: rec for batch in self.parallel.run(calls) for rec in batch})
        return self._enriched(found)

    def _batch_call(
        self, crm: Crm, sobject: str, ids: list[str], maps: FieldMaps
    ) -> Callable[[], list[Record]] | None:
        hubspot, salesforce = self.hubspot, self.salesforce
        if crm is Crm.HUBSPOT and hubspot is not None:
            return lambda: [
                from_hubspot(c, maps)
                for c in hubspot.read_contacts(ids, maps.hubspot_properties).found.values()
            ]
        if crm is Crm.SALESFORCE and salesforce is not None and sobject in SALESFORCE_OBJECTS:
            return lambda: [
                from_salesforce(r, maps)
                for r in salesforce.read_records(
                    sobject, ids, maps.salesforce_fields(sobject)
                ).values()
            ]
        return None

    def _enriched(self, records: dict[RecordKey, Record]) -> dict[RecordKey, Record]:
        if not self.enrichers or not records:
            return records
        batch = list(records.values())
        for enricher in self.enrichers:
            batch = enricher.enrich(batch)
        return {r.key: r for r in batch}
