"""The service harness: Relais's own worker on a real migrated database, with the in-memory
CRMs in place of HubSpot and Salesforce.

Events reach the inbox as the webhook endpoints store them (the inbox's own parsing, then
``InboxRepository.store``), from what the fakes say each CRM would have sent. The worker is
stepped until it has nothing left to do: no threads, no sleeps. Database look-ups used by the
tests live here too, so that a renamed column is fixed in one place.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select, update
from sqlmodel import col

from app.db import Database, utcnow
from app.decisions.models import Assignment, Decision
from app.inbox.hubspot_events import parse_event
from app.inbox.models import InboxEvent
from app.inbox.repository import InboxRepository
from app.inbox.salesforce_events import parse_flow_event
from app.links.models import CrmLink
from app.outbox.models import OutboxWrite
from app.pauses.repository import PauseRepository
from app.queue import Status
from app.runtime import Runtime
from app.webhooks.edge import RejectedEvent
from app.worker.service import Role, Worker
from connectors.crm import Crm, RecordKey
from connectors.hubspot.fake import InMemoryHubSpot
from connectors.hubspot.port import OWNER_PROPERTY, PropertyInfo
from connectors.salesforce.fake import InMemorySalesforce
from connectors.salesforce.port import SfField
from connectors.sandbox.hubspot import DEFAULT_PROPERTIES
from connectors.sandbox.salesforce import DEFAULT_DESCRIBE
from tests.conftest import REPS

MAX_STEPS = 50  # a worker that never goes idle is a bug, not a slow test


def inbox_rows(
    hubspot_events: Iterable[dict[str, Any]] = (),
    salesforce_notifications: Iterable[dict[str, Any]] = (),
) -> list[dict[str, Any]]:
    """Inbox rows for webhook events, as the endpoints build them (``app/webhooks``)."""
    now = utcnow()
    rows: list[dict[str, Any]] = []
    for event in hubspot_events:
        parsed = parse_event(event)
        assert not isinstance(parsed, RejectedEvent), parsed.reason
        rows.append(parsed.row(event, now))
    for notification in salesforce_notifications:
        sf = parse_flow_event(notification)
        assert not isinstance(sf, RejectedEvent), sf.reason
        rows.append(sf.row(now))
    return rows


@dataclass
class Service:
    """Relais's worker on the fakes. ``deliver`` stores what the CRMs sent; ``run`` steps the
    worker until idle; ``time_passes`` makes every retry due now."""

    runtime: Runtime
    hubspot: InMemoryHubSpot
    salesforce: InMemorySalesforce
    workers: dict[str, Worker] = field(default_factory=dict)

    @property
    def db(self) -> Database:
        return self.runtime.db

    def worker(self, role: Role = "both") -> Worker:
        if role not in self.workers:
            if not self.runtime.mappings.loaded:  # read now: the test may have edited them
                self.runtime.mappings.reload()
            self.workers[role] = self.runtime.worker(role)
        return self.workers[role]

    def deliver(self) -> int:
        """Store every webhook event the fakes emitted since the last delivery; returns how
        many were stored to be processed."""
        rows = inbox_rows(self.hubspot.take_events(), self.salesforce.take_notifications())
        if not rows:
            return 0
        with self.db.transaction() as session:
            return InboxRepository(session).store(rows).to_process

    def forget_webhooks(self) -> None:
        """Drop what the fakes emitted so far (records that existed before the webhooks)."""
        self.hubspot.take_events()
        self.salesforce.take_notifications()

    def run(self, role: Role = "both") -> int:
        """Step the worker until a step finds nothing due; returns the steps that worked."""
        worker = self.worker(role)
        for steps in range(MAX_STEPS):
            if not worker.step():
                return steps
        raise AssertionError(f"the worker was still busy after {MAX_STEPS} steps")

    def deliver_and_run(self) -> None:
        self.deliver()
        self.run()

    def time_passes(self) -> None:
        """Every event and write waiting for a retry becomes due now (pauses still hold)."""
        now = utcnow()
        with self.db.transaction() as session:
            for model in (InboxEvent, OutboxWrite):
                session.execute(
                    update(model)
                    .where(col(model.status) == Status.PENDING)
                    .values(available_at=now)
                )

    def resume(self, crm: Crm) -> None:
        """An admin (or the end of the quota window) ends the CRM's pause."""
        with self.db.transaction() as session:
            PauseRepository(session).resume(crm)

    # -- what the database says --------------------------------------------------------------

    def paused(self) -> list[Crm]:
        with self.db.transaction() as session:
            return PauseRepository(session).paused(utcnow())

    def events(self, record_key: str | None = None) -> list[InboxEvent]:
        with self.db.transaction() as session:
            query = select(InboxEvent).order_by(col(InboxEvent.id))
            if record_key is not None:
                query = query.where(col(InboxEvent.record_key) == record_key)
            return list(session.scalars(query))

    def decisions(self, record_key: str | None = None) -> list[Decision]:
        with self.db.transaction() as session:
            query = select(Decision).order_by(col(Decision.id))
            if record_key is not None:
                query = query.where(col(Decision.record_key) == record_key)
            return list(session.scalars(query))

    def assignments(self) -> dict[str, str]:
        """record key -> the rep's email, from the assignment ledger."""
        with self.db.transaction() as session:
            return {a.record_key: a.owner_email for a in session.scalars(select(Assignment))}

    def writes(self, record_key: str | None = None) -> list[OutboxWrite]:
        with self.db.transaction() as session:
            query = select(OutboxWrite).order_by(col(OutboxWrite.id))
            if record_key is not None:
                query = query.where(col(OutboxWrite.record_key) == record_key)
            return list(session.scalars(query))

    def links(self) -> list[CrmLink]:
        with self.db.transaction() as session:
            return list(session.scalars(select(CrmLink)))


def hubspot_key(contact_id: str) -> str:
    return str(RecordKey.hubspot(contact_id))


def salesforce_key(sobject: str, record_id: str) -> str:
    return str(RecordKey.salesforce(sobject, record_id))


# The properties and fields an admin creates for the score to show on the record.
SCORE_PROPERTIES = (
    PropertyInfo("relais_score", "number"),
    PropertyInfo("relais_temperature", "string"),
    PropertyInfo("relais_reasons", "string"),
)
SCORE_LEAD_FIELDS = (SfField("Relais_Score__c", "double"), SfField("Relais_Reasons__c", "string"))


def hubspot_account(*extra: PropertyInfo, subscribed: Iterable[str] = ()) -> InMemoryHubSpot:
    """A HubSpot account with the sandbox's properties and ``extra`` (created by the admin),
    its app subscribed to the owner and ``subscribed``, every rep of the team an owner."""
    props = [
        PropertyInfo(name, str(spec["type"]), tuple(str(o) for o in spec.get("options", ())))
        for name, spec in DEFAULT_PROPERTIES.items()
    ]
    fake = InMemoryHubSpot(
        properties=[*props, *extra], subscribed_properties=(OWNER_PROPERTY, *subscribed)
    )
    for email, first, last in REPS:
        fake.add_owner(email, first, last)
    return fake


def salesforce_org(*lead_fields: SfField) -> InMemorySalesforce:
    """A Salesforce org with the sandbox's fields and ``lead_fields`` on the Lead (created by
    the admin), every rep of the team an active user."""
    describe = {
        sobject: [SfField(n, str(spec["type"])) for n, spec in fields.items()]
        for sobject, fields in DEFAULT_DESCRIBE.items()
    }
    describe["Lead"] += lead_fields
    fake = InMemorySalesforce(describe=describe)
    for email, first, last in REPS:
        fake.add_user(email, first, last)
    return fake
