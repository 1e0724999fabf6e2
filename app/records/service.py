"""The read stage: CRM records in batches (one call per CRM object per 100-200 records, never
one per record), calls that do not depend on each other in parallel, then the enrichers."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Protocol

from app.records.schemas import FieldMaps, Record
from app.records.sources import Parallel, RecordSource
from connectors.crm import Crm, RecordKey


class Enricher(Protocol):
    """Adds what the CRMs do not hold (firmographics, a normalised phone, ...) to records.
    None is registered yet: enrichment comes with qualification and plugs in here."""

    def enrich(self, records: Sequence[Record]) -> list[Record]: ...


class RecordReader:
    def __init__(
        self,
        sources: Mapping[Crm, RecordSource],
        parallel: Parallel,
        enrichers: Sequence[Enricher] = (),
    ) -> None:
        self.sources = sources
        self.parallel = parallel
        self.enrichers = tuple(enrichers)

    def read(
        self,
        keys: Iterable[RecordKey],
        maps: FieldMaps,
        notified: Mapping[RecordKey, Mapping[str, Any]] | None = None,
    ) -> dict[RecordKey, Record]:
        """Records by key; absent: not found, or of a CRM this process is not configured for.
        ``notified``: the field values a notification carried, which spare the read when they
        cover every field we use."""
        by_kind: dict[tuple[Crm, str], list[str]] = defaultdict(list)
        found: dict[RecordKey, Record] = {}
        for key in keys:
            source = self.sources.get(key.crm)
            if source is None:
                continue
            fields = (notified or {}).get(key)
            record = source.notified(key, fields, maps) if fields is not None else None
            if record is not None:
                found[key] = record
            else:
                by_kind[(key.crm, key.sobject)].append(key.id)
        calls: list[Callable[[], list[Record]]] = [
            lambda s=self.sources[crm], o=sobject, i=ids: s.read(o, i, maps)  # type: ignore[misc]
            for (crm, sobject), ids in by_kind.items()
        ]
        found.update({rec.key: rec for batch in self.parallel.run(calls) for rec in batch})
        return self.enrich(found)

    def enrich(self, records: dict[RecordKey, Record]) -> dict[RecordKey, Record]:
        """The records with what each enricher adds (records read, or found another way)."""
        if not self.enrichers or not records:
            return records
        batch = list(records.values())
        for enricher in self.enrichers:
            batch = enricher.enrich(batch)
        return {r.key: r for r in batch}
