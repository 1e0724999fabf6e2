"""Owner writers, one per CRM, chosen from a registry: how to read a record's current owner and
how to send a batch of owner writes. The dispatcher knows no vendor; a CRM that is not
configured has no writer, and its writes wait in the outbox."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from app.outbox.repository import ClaimedWrite
from connectors.hubspot.port import OWNER_PROPERTY, ContactUpdate, HubSpotPort, UpdateFailure
from connectors.salesforce.port import OwnerUpdate, SalesforcePort


@dataclass
class SendResult:
    updated: list[str] = field(default_factory=list)  # object ids the CRM confirmed
    failed: list[UpdateFailure] = field(default_factory=list)


class OwnerWriter(Protocol):
    """Raises only ``connectors.errors.CrmError`` subclasses."""

    def current_owners(self, writes: Sequence[ClaimedWrite]) -> dict[str, str | None]:
        """object id -> the owner id the CRM shows now (None: no owner); absent: not found."""
        ...

    def send(self, writes: Sequence[ClaimedWrite], deadline: float) -> SendResult:
        """Send the writes; no call starts that could outlast ``deadline`` (the lease)."""
        ...


class HubSpotOwnerWriter:
    def __init__(self, port: HubSpotPort) -> None:
        self.port = port

    def current_owners(self, writes: Sequence[ClaimedWrite]) -> dict[str, str | None]:
        found = self.port.read_contacts([w.object_id for w in writes], [OWNER_PROPERTY]).found
        return {i: c.properties.get(OWNER_PROPERTY) or None for i, c in found.items()}

    def send(self, writes: Sequence[ClaimedWrite], deadline: float) -> SendResult:
        result = self.port.update_contacts(
            [ContactUpdate(w.object_id, {OWNER_PROPERTY: w.owner_id}) for w in writes],
            deadline=deadline,
        )
        return SendResult(result.updated, result.failed)


class SalesforceOwnerWriter:
    def __init__(self, port: SalesforcePort) -> None:
        self.port = port

    def current_owners(self, writes: Sequence[ClaimedWrite]) -> dict[str, str | None]:
        by_object: dict[str, list[str]] = defaultdict(list)
        for w in writes:
            by_object[w.sobject].append(w.object_id)
        owners: dict[str, str | None] = {}
        for sobject, ids in by_object.items():
            for rid, rec in self.port.read_records(sobject, ids, ["OwnerId"]).items():
                owners[rid] = str(rec.fields.get("OwnerId") or "") or None
        return owners

    def send(self, writes: Sequence[ClaimedWrite], deadline: float) -> SendResult:
        result = self.port.update_owners(
            [OwnerUpdate(w.object_id, w.sobject, w.owner_id) for w in writes], deadline=deadline
        )
        return SendResult(result.updated, result.failed)


def owner_writers(
    hubspot: HubSpotPort | None, salesforce: SalesforcePort | None
) -> dict[str, OwnerWriter]:
    """The registry: CRM name -> its writer, for the CRMs this process can reach."""
    writers: dict[str, OwnerWriter] = {}
    if hubspot is not None:
        writers["hubspot"] = HubSpotOwnerWriter(hubspot)
    if salesforce is not None:
        writers["salesforce"] = SalesforceOwnerWriter(salesforce)
    return writers
