"""Four worker processes on one PostgreSQL database: a burst of 2,000 contacts through one
weighted pool, each once, each rep within its share."""

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
from tests.integration.helpers import weighted_shares, within_weighted_shares
from tests.integration.workers import start_worker, stop_worker

ACTIVE = [
    "claire.martin@paieco.example",
    "hugo.bernard@paieco.example",
    "ines.dubois@paieco.example",
    "lucas.moreau@paieco.example",
]

N = 2000
WORKERS = 4


@pytest.mark.postgres_only
def test_four_workers_route_a_burst_once_each_and_by_weight(
    sandbox: SandboxServer, relais_no_worker: Relais, db: Database
) -> None:
    hs = sandbox.hubspot
    hs.state.latency_ms = 20  # keep both workers busy at the same time
    connect_webhooks(sandbox, relais_no_worker, batch_window_ms=50)
    workers = [
        start_worker(relais_no_worker.settings, RELAIS_WORKER_BATCH_SIZE="50")
        for _ in range(WORKERS)
    ]
    try:
        ids: list[str] = []
        for chunk in range(0, N, 100):
            ids += hs.create_contacts(make_leads(100, seed=chunk))
        wait_for(lambda: hs.stats()["owned"] == N, timeout=240, what=f"{N} contacts owned")
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
    assert len({e.lease_owner for e in events}) == WORKERS  # every worker took a share
    assert assignments == N and set(per_record.values()) == {1}
    assert all(c.owner_writes == 1 for c in hs.state.contacts.values())
    # the weighted pool kept each rep within its share although four processes shared it
    # (issue 10 asks within 4; the pool's lock per batch keeps it within 1)
    with db.transaction() as session:
        order = [
            str(e)
            for e in session.scalars(select(col(Decision.owner_email)).order_by(col(Decision.id)))
        ]
    counts = Counter(order)
    shares = weighted_shares(ACTIVE)
    assert all(abs(counts[rep] - N * share) < 4 for rep, share in shares.items()), counts
    assert within_weighted_shares(order, ACTIVE)


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
