"""Writers chosen from a registry keyed by (CRM, write kind): how a write sent again is judged
and how a batch goes out. Sending is the CRM's part (one batch call sets any fields, the owner
included); judging is the kind's (an owner write re-reads the owner first, see ``resend.py``;
a fields write sets values, the same however often it is sent). The dispatcher knows no
vendor; a CRM that is not configured has no writers, and its writes wait in the outbox."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from app.outbox.models import WriteKind
from app.outbox.repository import ClaimedWrite
from app.outbox.resend import Resend, Verdict, judge
from app.outbox.writes import OWNER_FIELDS
from connectors.crm import Crm
from connectors.hubspot.port import ContactUpdate, HubSpotPort
from connectors.results import UpdateResult
from connectors.salesforce.port import RecordUpdate, SalesforcePort


@dataclass(frozen=True)
class Team:
    """Who is who, for the judgment on an owner write sent again."""

    reps: Collection[str]  # the emails of the team's reps (team.yaml)
    rep_of: Callable[[Crm, str], str | None]  # an owner id in a CRM -> the rep's email


class Writer(Protocol):
    """Sends one kind of write to one CRM. Raises only ``connectors.errors.CrmError``."""

    def judge_again(self, writes: Sequence[ClaimedWrite], team: Team) -> dict[int, Verdict]:
        """The verdict on each write sent again, by write id (absent: send it)."""
        ...

    def send(self, writes: Sequence[ClaimedWrite], deadline: float) -> UpdateResult:
        """Send the writes; no call starts that could outlast ``deadline`` (the lease)."""
        ...


class CrmAccess(Protocol):
    """What a writer needs of a CRM: set fields in batches, read owners."""

    def send(self, writes: Sequence[ClaimedWrite], deadline: float) -> UpdateResult: ...

    def current_owners(self, writes: Sequence[ClaimedWrite]) -> dict[str, str | None]:
        """object id -> the owner id the CRM shows now (None: no owner); absent: not found."""
        ...


class HubSpotAccess:
    def __init__(self, port: HubSpotPort) -> None:
        self.port = port

    def current_owners(self, writes: Sequence[ClaimedWrite]) -> dict[str, str | None]:
        owner = OWNER_FIELDS[Crm.HUBSPOT]
        found = self.port.read_contacts([w.object_id for w in writes], [owner]).found
        return {i: c.properties.get(owner) or None for i, c in found.items()}

    def send(self, writes: Sequence[ClaimedWrite], deadline: float) -> UpdateResult:
        # HubSpot clears a property set to the empty string.
        updates = [
            ContactUpdate(
                w.object_id, {k: "" if v is None else str(v) for k, v in w.fields.items()}
            )
            for w in writes
        ]
        return self.port.update_contacts(updates, deadline=deadline)


class SalesforceAccess:
    def __init__(self, port: SalesforcePort) -> None:
        self.port = port

    def current_owners(self, writes: Sequence[ClaimedWrite]) -> dict[str, str | None]:
        owner = OWNER_FIELDS[Crm.SALESFORCE]
        by_object: dict[str, list[str]] = defaultdict(list)
        for w in writes:
            by_object[w.sobject].append(w.object_id)
        owners: dict[str, str | None] = {}
        for sobject, ids in by_object.items():
            for rid, rec in self.port.read_records(sobject, ids, [owner]).items():
                owners[rid] = str(rec.fields.get(owner) or "") or None
        return owners

    def send(self, writes: Sequence[ClaimedWrite], deadline: float) -> UpdateResult:
        updates = [RecordUpdate(w.object_id, w.sobject, dict(w.fields)) for w in writes]
        return self.port.update_records(updates, deadline=deadline)


class OwnerWriter:
    """Owner writes: one sent again first re-reads the owner (confirmed, send, superseded)."""

    def __init__(self, crm: Crm, access: CrmAccess) -> None:
        self.crm = crm
        self.access = access

    def judge_again(self, writes: Sequence[ClaimedWrite], team: Team) -> dict[int, Verdict]:
        current = self.access.current_owners(writes)
        verdicts = {
            w.id: judge(
                crm=self.crm.value,
                ours=w.owner_id,
                our_rep=w.rep,
                before=w.owner_before,
                before_known=w.before_known,
                current=current.get(w.object_id),
                found=w.object_id in current,
                rep_of=lambda owner_id: team.rep_of(self.crm, owner_id),
                team=team.reps,
            )
            for w in writes
        }
        return {i: v for i, v in verdicts.items() if v.action is not Resend.SEND}

    def send(self, writes: Sequence[ClaimedWrite], deadline: float) -> UpdateResult:
        return self.access.send(writes, deadline)


class FieldsWriter:
    """Field values: the same values however often they are sent, so nothing to judge."""

    def __init__(self, access: CrmAccess) -> None:
        self.access = access

    def judge_again(self, writes: Sequence[ClaimedWrite], team: Team) -> dict[int, Verdict]:
        return {}

    def send(self, writes: Sequence[ClaimedWrite], deadline: float) -> UpdateResult:
        return self.access.send(writes, deadline)


# The registry: a CRM this process reaches -> the writer of each kind of write to it.
Registry = Mapping[Crm, Mapping[WriteKind, Writer]]


def build_writers(hubspot: HubSpotPort | None, salesforce: SalesforcePort | None) -> Registry:
    """Writers by (CRM, kind), for the CRMs this process can reach."""
    access: dict[Crm, CrmAccess] = {}
    if hubspot is not None:
        access[Crm.HUBSPOT] = HubSpotAccess(hubspot)
    if salesforce is not None:
        access[Crm.SALESFORCE] = SalesforceAccess(salesforce)
    return {
        crm: {
            WriteKind.OWNER: OwnerWriter(crm, crm_access),
            WriteKind.FIELDS: FieldsWriter(crm_access),
        }
        for crm, crm_access in access.items()
    }


def sendable(registry: Registry, paused: Collection[Crm] = ()) -> list[tuple[Crm, WriteKind]]:
    """The (CRM, kind) pairs some writer sends, leaving out the CRMs ``paused``."""
    return [(crm, kind) for crm, kinds in registry.items() if crm not in paused for kind in kinds]


def reachable_crms(registry: Registry) -> tuple[Crm, ...]:
    """The CRMs some writer of ``registry`` sends to, in ``Crm`` order."""
    return tuple(crm for crm in Crm if registry.get(crm))
