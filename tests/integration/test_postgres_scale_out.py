"""Two worker processes on one PostgreSQL database: a burst of 1,000 contacts, each once."""

from __future__ import annotations

from collections import Counter

import pytest
from sqlalchemy import func, select
from sqlmodel import col

from app.db import Database
from app.decisions.models import Assignment, Decision
from app.demo_data import make_leads
from app.inbox.models import InboxEvent
from app.queue import Status
from connectors.sandbox import SandboxServer
from tests.conftest import Relais, connect_webhooks, wait_for
from tests.integration.workers import start_worker, stop_worker

N = 1000


@pytest.mark.postgres_only
def test_two_workers_process_a_burst_with_no_event_twice_and_none_missed(
    sandbox: SandboxServer, relais_no_worker: Relais, db: Database
) -> None:
    hs = sandbox.hubspot
    hs.state.latency_ms = 20  # keep both workers busy at the same time
    connect_webhooks(sandbox, relais_no_worker, batch_window_ms=50)
    workers = [
        start_worker(relais_no_worker.settings, RELAIS_WORKER_BATCH_SIZE="50") for _ in range(2)
    ]
    try:
        ids: list[str] = []
        for chunk in range(0, N, 100):
            ids += hs.create_contacts(make_leads(100, seed=chunk))
        wait_for(lambda: hs.stats()["owned"] == N, timeout=120, what=f"{N} contacts owned")
        wait_for(lambda: _done(db) == N, what="every event done")
    finally:
        for w in workers:
            stop_worker(w)
    assert all(w.returncode == 0 for w in workers), [w.stderr.read() for w in workers if w.stderr]

    with db.transaction() as session:
        events = list(
            session.scalars(
                select(InboxEvent).where(col(InboxEvent.event_type) == "contact.creation")
            )
        )
        assignments = session.scalar(select(func.count()).select_from(Assignment))
        per_record = Counter(session.scalars(select(col(Decision.record_key))))
    assert len(events) == N
    assert all(e.status == Status.DONE and e.attempts == 1 for e in events)  # none twice
    assert len({e.lease_owner for e in events}) == 2  # both workers took a share
    assert assignments == N and set(per_record.values()) == {1}
    assert all(c.owner_writes == 1 for c in hs.state.contacts.values())
    # the rotation stayed equal although two processes shared it
    per_owner = hs.stats()["per_owner"]
    assert max(per_owner.values()) - min(per_owner.values()) <= 1


def _done(db: Database) -> int:
    with db.transaction() as session:
        return int(
            session.scalar(
                select(func.count())
                .select_from(InboxEvent)
                .where(
                    col(InboxEvent.event_type) == "contact.creation",
                    col(InboxEvent.status) == Status.DONE,
                )
            )
            or 0
        )
