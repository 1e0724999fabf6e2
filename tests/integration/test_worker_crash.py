"""A worker killed with SIGKILL mid-processing loses nothing and assigns nothing twice."""

from __future__ import annotations

import signal
from collections import Counter
from typing import Any

import pytest
from sqlalchemy import select
from sqlmodel import col

from app.db import Database
from app.decisions.models import Assignment, Decision
from app.demo_data import make_leads
from app.inbox.models import InboxEvent
from app.outbox.models import OutboxWrite
from app.queue import Status
from connectors.sandbox import SandboxServer
from connectors.sandbox.hubspot import Fault
from connectors.sandbox.salesforce import SfFault
from tests.conftest import Relais, connect_salesforce, connect_webhooks, wait_for
from tests.integration.test_salesforce_end_to_end import sf_lead
from tests.integration.workers import start_worker, stop_worker

# A short lease, so that the second worker takes over soon; calls time out within it.
CRASH_ENV = {
    "RELAIS_WORKER_LEASE_SECONDS": "3",
    "RELAIS_HUBSPOT_TIMEOUT_SECONDS": "1.2",
    "RELAIS_SALESFORCE_TIMEOUT_SECONDS": "1.2",
}


def test_given_a_worker_killed_mid_batch_then_events_are_reclaimed_and_assigned_once(
    sandbox: SandboxServer, relais_no_worker: Relais, db: Database
) -> None:
    hs = sandbox.hubspot
    # The first read hangs long enough for us to kill the worker while it waits on HubSpot.
    hs.state.faults.append(Fault(operation="contacts.batch_read", status=200, latency_ms=10_000))
    connect_webhooks(sandbox, relais_no_worker, batch_window_ms=100)
    ids = hs.create_contacts(make_leads(10))
    assert hs.webhooks.wait_idle(10)

    first = start_worker(relais_no_worker.settings, **CRASH_ENV)
    try:
        wait_for(
            lambda: hs.stats()["calls"].get("contacts.batch_read"),
            timeout=30,
            what="the first worker to be reading contacts",
        )
        claimed = _events(db)
        assert claimed and all(e.status == Status.PROCESSING for e in claimed)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
    finally:
        stop_worker(first)
    assert all(c.owner_writes == 0 for c in hs.state.contacts.values())

    second = start_worker(relais_no_worker.settings, **CRASH_ENV)
    try:
        wait_for(
            lambda: all(hs.state.contacts[i].properties.get("hubspot_owner_id") for i in ids),
            timeout=30,
            what="owners after the crash",
        )
        wait_for(lambda: all(e.status == Status.DONE for e in _events(db)), what="events done")
    finally:
        stop_worker(second)

    events = _events(db)
    assert len(events) == 10
    assert {e.attempts for e in events} == {2}  # the killed attempt counts
    with db.transaction() as session:
        assert len(list(session.scalars(select(Assignment)))) == 10
        per_record = Counter(session.scalars(select(col(Decision.record_key))))
    assert set(per_record.values()) == {1}
    assert all(c.owner_writes == 1 for c in hs.state.contacts.values())


def _events(db: Database) -> list[InboxEvent]:
    with db.transaction() as session:
        return list(
            session.scalars(
                select(InboxEvent).where(col(InboxEvent.event_type) == "contact.creation")
            )
        )


def test_given_a_worker_killed_while_sending_owners_then_the_decision_stands_and_lands_once(
    sandbox: SandboxServer, relais_no_worker: Relais, db: Database
) -> None:
    hs = sandbox.hubspot
    hs.state.faults.append(Fault(operation="contacts.batch_update", status=200, latency_ms=10_000))
    connect_webhooks(sandbox, relais_no_worker, batch_window_ms=100)
    ids = hs.create_contacts(make_leads(6))
    assert hs.webhooks.wait_idle(10)

    first = start_worker(relais_no_worker.settings, **CRASH_ENV)
    try:
        wait_for(
            lambda: hs.stats()["calls"].get("contacts.batch_update"),
            timeout=30,
            what="the first worker to be writing owners",
        )
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
    finally:
        stop_worker(first)
    with db.transaction() as session:
        decided = {d.record_key: d.owner_crm_id for d in session.scalars(select(Decision))}
    assert len(decided) == 6  # the decisions were committed before the send

    second = start_worker(relais_no_worker.settings, **CRASH_ENV)
    try:
        wait_for(
            lambda: all(hs.state.contacts[i].properties.get("hubspot_owner_id") for i in ids),
            timeout=30,
            what="owners after the crash",
        )
    finally:
        stop_worker(second)
    for i in ids:  # each contact has the owner decided before the crash, no other
        assert (
            hs.state.contacts[i].properties["hubspot_owner_id"] == decided[f"hubspot:contact:{i}"]
        )
    with db.transaction() as session:
        assert len(list(session.scalars(select(Assignment)))) == 6


def _sf_write(db: Database) -> OutboxWrite | None:
    with db.transaction() as session:
        return session.scalars(select(OutboxWrite)).first()


@pytest.mark.parametrize(
    ("step", "fault"),
    [
        # killed while the PATCH is on its way, before Salesforce took it (it fails late)
        ("before the send took effect", {"status": 503, "latency_ms": 10_000}),
        # killed after Salesforce took the PATCH, before its answer came back to be settled
        ("after the send, before the settle", {"status": 200, "hold_answer_ms": 10_000}),
    ],
)
def test_a_worker_killed_during_a_salesforce_write_loses_nothing_and_writes_once(
    sandbox: SandboxServer, relais_no_worker: Relais, db: Database, step: str, fault: dict[str, Any]
) -> None:
    sf = sandbox.salesforce
    connect_salesforce(sandbox, relais_no_worker)
    with sf.lock:
        sf.state.faults.append(SfFault(operation="composite.sobjects.update", **fault))
    [lead] = sf.create_records("Lead", [sf_lead(1, Email="crash@betonsud.fr")])  # ready
    first = start_worker(relais_no_worker.settings, **CRASH_ENV)
    try:
        wait_for(
            lambda: sf.stats()["calls"].get("composite.sobjects.update"),
            timeout=30,
            what="the first worker writing the owner",
        )
        if "after" in step:
            wait_for(lambda: sf.state.owner_writes[lead] == 1, what="Salesforce took the write")
        write = _sf_write(db)
        assert write is not None and write.status == Status.PROCESSING  # not settled yet
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
    finally:
        stop_worker(first)
    written_before = sf.state.owner_writes[lead]
    assert written_before == (1 if "after" in step else 0)

    second = start_worker(relais_no_worker.settings, **CRASH_ENV)
    try:
        wait_for(
            lambda: (w := _sf_write(db)) is not None and w.status == Status.DONE,
            timeout=30,
            what="the write settled by the second worker",
        )
    finally:
        stop_worker(second)
    with db.transaction() as session:
        [decision] = session.scalars(select(Decision)).all()
    owner = sf.record("Lead", lead)["OwnerId"]
    assert sf.state.records["User"][owner]["Email"] == decision.owner_email  # the decided rep
    assert sf.state.owner_writes[lead] == 1  # written exactly once, whatever the step
    assert decision.written_at is not None
