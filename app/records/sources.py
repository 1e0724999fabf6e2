"""Where records come from, one source per CRM, chosen from a registry keyed by ``Crm``: the
stages above never ask which CRM they talk to."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol, TypeVar

from app.records.schemas import FieldMaps, Record, from_hubspot, from_salesforce
from connectors.crm import SALESFORCE_OBJECTS, Crm, RecordKey
from connectors.hubspot.port import HubSpotPort
from connectors.salesforce.port import SalesforcePort, SfRecord

T = TypeVar("T")


class Parallel:
    """Runs independent CRM calls at once: latency is one round trip, not the sum."""

    def __init__(self, workers: int = 4, name: str = "crm-read") -> None:
        self._name = name
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=name)

    def run(self, calls: Sequence[Callable[[], T]]) -> list[T]:
        # Calls made from a call already in the pool run in its thread: waiting on the pool
        # from inside it could exhaust it and wait for ever.
        nested = threading.current_thread().name.startswith(self._name)
        if len(calls) <= 1 or nested:
            return [c() for c in calls]
        return [f.result() for f in [self._pool.submit(c) for c in calls]]


class RecordSource(Protocol):
    """One CRM's records and owners. Raises only ``connectors.errors.CrmError``."""

    def read(self, sobject: str, ids: Sequence[str], maps: FieldMaps) -> list[Record]:
        """The records that exist among ``ids`` (batched by the connector)."""
        ...

    def notified(self, key: RecordKey, fields: Mapping[str, Any], maps: FieldMaps) -> Record | None:
        """The record from the field values a notification carried, when they cover every
        field we read (no call needed); None otherwise."""
        ...

    def find_by_email(self, emails: Sequence[str], maps: FieldMaps) -> dict[str, list[Record]]:
        """lower-cased email -> the records with it, the one to link first."""
        ...

    def owners(self) -> dict[str, str]:
        """email -> owner id, for every user who can own records now."""
        ...


class HubSpotSource:
    def __init__(self, port: HubSpotPort) -> None:
        self.port = port

    def read(self, sobject: str, ids: Sequence[str], maps: FieldMaps) -> list[Record]:
        found = self.port.read_contacts(ids, maps.hubspot_properties).found
        return [from_hubspot(c, maps) for c in found.values()]

    def notified(self, key: RecordKey, fields: Mapping[str, Any], maps: FieldMaps) -> Record | None:
        return None  # a HubSpot webhook names the contact, never its properties' values

    def find_by_email(self, emails: Sequence[str], maps: FieldMaps) -> dict[str, list[Record]]:
        found = self.port.read_contacts_by_email(emails, maps.hubspot_properties)
        return {email: [from_hubspot(c, maps)] for email, c in found.items()}

    def owners(self) -> dict[str, str]:
        return {o.email: o.id for o in self.port.list_owners() if not o.archived}


class SalesforceSource:
    # A Contact is the person sales already works: linked before a Lead with the same email.
    EMAIL_SEARCH_ORDER = ("Contact", "Lead")

    def __init__(self, port: SalesforcePort) -> None:
        self.port = port
        # Its own threads: the linker already runs this search in the reader's pool.
        self.parallel = Parallel(workers=len(self.EMAIL_SEARCH_ORDER), name="crm-email")

    def read(self, sobject: str, ids: Sequence[str], maps: FieldMaps) -> list[Record]:
        if sobject not in SALESFORCE_OBJECTS:
            return []
        found = self.port.read_records(sobject, ids, maps.salesforce_fields(sobject))
        return [from_salesforce(r, maps) for r in found.values()]

    def notified(self, key: RecordKey, fields: Mapping[str, Any], maps: FieldMaps) -> Record | None:
        # An Outbound Message sends the record's latest values of the fields it was set up with.
        if key.sobject not in SALESFORCE_OBJECTS:
            return None
        if not set(maps.salesforce_fields(key.sobject)) <= set(fields):
            return None
        return from_salesforce(SfRecord(key.id, key.sobject, dict(fields)), maps)

    def find_by_email(self, emails: Sequence[str], maps: FieldMaps) -> dict[str, list[Record]]:
        def search(sobject: str) -> list[SfRecord]:
            return self.port.find_by_email(sobject, emails, maps.salesforce_fields(sobject))

        answers = self.parallel.run(
            [lambda s=s: search(s) for s in self.EMAIL_SEARCH_ORDER]  # type: ignore[misc]
        )
        found: dict[str, list[Record]] = {}
        for batch in answers:  # Contacts first, then Leads; each oldest first
            for sf in batch:
                rec = from_salesforce(sf, maps)
                if rec.email:
                    found.setdefault(rec.email, []).append(rec)
        return found

    def owners(self) -> dict[str, str]:
        return {u.email: u.id for u in self.port.list_users() if u.active}


def record_sources(
    hubspot: HubSpotPort | None, salesforce: SalesforcePort | None
) -> dict[Crm, RecordSource]:
    """The registry: the CRMs this process is configured for."""
    sources: dict[Crm, RecordSource] = {}
    if hubspot is not None:
        sources[Crm.HUBSPOT] = HubSpotSource(hubspot)
    if salesforce is not None:
        sources[Crm.SALESFORCE] = SalesforceSource(salesforce)
    return sources
