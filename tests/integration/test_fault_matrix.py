"""The fault matrix: every CRM operation Relais performs x every transient fault, injected once,
three times in a row (more than the connector's own tries), and for longer than the worker's
lease. In every case every lead ends owned by its decided rep in the CRM it lives in, written
exactly once, with the decision's ``written_at`` set, and nothing is dead-lettered.

End to end through the sandbox CRMs (real HTTP and TLS) and a real database (SQLite, or
PostgreSQL with ``--postgres``). One sandbox and one Relais serve the whole module; each case
brings its own leads: a HubSpot contact and a Salesforce Lead, which between them make Relais
call every operation (read the contact, look its person up in Salesforce, look the Lead's
person up in HubSpot, list owners and users, write both owners; a login after the case expired
the Salesforce sessions).
"""

from __future__ import annotations

import itertools
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, select, text
from sqlmodel import col

from app import migrations
from app.config import Settings
from app.db import Database
from app.decisions.models import Decision
from app.inbox.models import InboxEvent
from app.main import create_app
from app.outbox.models import OutboxWrite
from app.queue import Status
from connectors.hubspot import HubSpotClient, HubSpotSettings
from connectors.salesforce import SalesforceClient
from connectors.sandbox import SandboxServer
from connectors.sandbox.hubspot import Fault
from connectors.sandbox.salesforce import NotificationSetup, SfFault
from connectors.sandbox.server import ThreadedServer
from connectors.sandbox.webhooks import WebhookConfig
from tests.conftest import (
    REPS,
    TOKEN,
    USE_POSTGRES,
    copy_mappings,
    salesforce_settings,
    wait_for,
)
from tests.integration.helpers import ready
from tests.integration.test_salesforce_end_to_end import sf_lead

LEASE = 1.0  # seconds: short, so that "longer than the lease" stays short too
TIMEOUT = 0.25  # each connector call's timeout; a timeout fault answers later than this
HUBSPOT = "hubspot"
SALESFORCE = "salesforce"

# (CRM, the sandbox's operation name) for every operation Relais performs.
OPERATIONS = [
    (HUBSPOT, "contacts.batch_read"),  # read contacts by id (and by email: same endpoint)
    (HUBSPOT, "contacts.batch_read.by_email"),  # a Salesforce Lead's person, looked up in HubSpot
    (HUBSPOT, "owners.list"),
    (HUBSPOT, "contacts.batch_update"),
    (SALESFORCE, "oauth.token"),  # login
    (SALESFORCE, "query.Lead"),  # SOQL: a HubSpot contact's person, looked up in Salesforce
    (SALESFORCE, "query.User"),  # the users list
    (SALESFORCE, "composite.sobjects.update"),
]
WRITES = {"contacts.batch_update", "composite.sobjects.update"}
# Each transient fault: the fields of a sandbox fault. A timeout answers (with a 504, so
# the late answer changes nothing) after the connector stopped waiting; a reset drops the
# connection before the call takes effect; an answer lost comes late after the call took effect.
FAULTS: dict[str, dict[str, Any]] = {
    "429": {"status": 429},
    "429+Retry-After": {"status": 429, "retry_after": 1},
    "500": {"status": 500},
    "502": {"status": 502},
    "503": {"status": 503},
    "timeout": {"status": 504, "latency_ms": TIMEOUT * 1000 * 2.4},
    "reset": {"reset": True},
    # the call takes effect but its answer comes after the connector stopped waiting: a write
    # landed without Relais knowing (it must be confirmed by a re-read, never sent twice)
    "answer lost": {"status": 200, "hold_answer_ms": TIMEOUT * 1000 * 2.4},
}
SPANS: dict[str, dict[str, Any]] = {
    "once": {"times": 1},
    "three in a row": {"times": 3},
    # timed from the first call that meets it: the outage outlasts a lease whenever it starts
    "longer than the lease": {"for_seconds": LEASE * 1.4, "timed_from": "first_call"},
}


def fast_sleep(seconds: float) -> None:
    """The connectors' own back-off, a tenth as long (the schedule is theirs, the wait short)."""
    time.sleep(seconds / 10)


@dataclass
class Stack:
    """One sandbox, one Relais and one database, for the cases of one operation."""

    sandbox: SandboxServer
    db: Database
    server: ThreadedServer
    seq: Iterator[int]

    def close(self) -> None:
        self.server.stop()
        self.sandbox.stop()
        self.db.dispose()


def _database(template: str, index: int, folder: Path) -> str:
    """A migrated database of its own: a copy of the SQLite template, or a PostgreSQL schema."""
    if not USE_POSTGRES:
        target = folder / f"matrix{index}.db"
        target.write_bytes(Path(template).read_bytes())
        return f"sqlite:///{target}"
    schema = f"relais_matrix_{index}"
    base = template.split("?")[0]
    engine = create_engine(base)
    with engine.begin() as conn:
        conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    engine.dispose()
    url = f"{base}?options=-csearch_path%3D{schema}"
    migrations.upgrade(url)
    return url


def _drop(url: str) -> None:
    if USE_POSTGRES:
        schema = url.rsplit("%3D", 1)[1]
        engine = create_engine(url.split("?")[0])
        with engine.begin() as conn:
            conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        engine.dispose()


def _stack(url: str) -> Stack:
    sandbox = SandboxServer(hubspot_token=TOKEN).start()
    for email, first, last in REPS:
        sandbox.hubspot.add_owner(email, first, last)
        sandbox.salesforce.add_user(email, first, last)
    sf = sandbox.salesforce.state
    # the shipped mappings without the reps' calendars: routing must not depend on the hour
    mappings = copy_mappings(Path(tempfile.mkdtemp(prefix="matrix-")) / "mappings")
    settings = Settings(
        database_url=url,
        mappings_dir=mappings,
        hubspot_base_url=sandbox.url,
        hubspot_access_token=TOKEN,
        hubspot_client_secret="matrix-secret",
        hubspot_timeout_seconds=TIMEOUT,
        hubspot_owner_cache_seconds=0,  # every batch lists owners and users: both are tested
        hubspot_rate_limit_wait_seconds=0.3,  # a 429 without Retry-After: HubSpot's window, short
        salesforce_org_id=sf.org_id,
        salesforce_login_url=sandbox.salesforce_url,
        salesforce_client_id=sf.client_id,
        salesforce_client_secret=sf.client_secret,
        salesforce_ca_bundle=sandbox.ca_path,
        salesforce_timeout_seconds=TIMEOUT,
        worker_threads=2,  # a second worker reclaims what a stuck one's lease lets go
        worker_poll_seconds=0.2,
        worker_lease_seconds=LEASE,
        retry_base_seconds=0.02,
        retry_max_seconds=0.2,
        retry_max_attempts=80,  # a budget far longer than any fault below
    )
    app = create_app(settings, embedded_worker=True)
    runtime = app.state.runtime
    # The real connectors, with their back-off scaled down (see fast_sleep).
    runtime._hubspot = HubSpotClient(
        HubSpotSettings(
            base_url=sandbox.url,
            access_token=TOKEN,
            timeout_seconds=TIMEOUT,
            max_attempts=settings.hubspot_max_attempts,
            rate_limit_wait_seconds=settings.hubspot_rate_limit_wait_seconds,
        ),
        sleep=fast_sleep,
    )
    runtime._salesforce = SalesforceClient(
        salesforce_settings(sandbox, timeout_seconds=TIMEOUT), sleep=fast_sleep
    )
    server = ThreadedServer(app).start()
    sandbox.hubspot.webhooks.configure(
        WebhookConfig(
            target_url=f"{server.url}/webhooks/hubspot",
            client_secret="matrix-secret",
            batch_window_ms=10,
        )
    )
    sandbox.salesforce.notifications.configure(
        NotificationSetup(
            target_url=f"{server.url}/webhooks/salesforce/outbound-message", batch_window_ms=10
        )
    )
    return Stack(sandbox, Database(url), server, itertools.count(1))


def _inject(matrix: Stack, crm: str, operation: str, **fields: Any) -> None:
    if crm == HUBSPOT:
        hs = matrix.sandbox.hubspot
        with hs.lock:
            hs.state.faults.append(Fault(operation=operation, **fields))
    else:
        sf = matrix.sandbox.salesforce
        with sf.lock:
            sf.state.faults.append(SfFault(operation=operation, **fields))


def _served(matrix: Stack, crm: str, operation: str) -> int:
    side = matrix.sandbox.hubspot if crm == HUBSPOT else matrix.sandbox.salesforce
    with side.lock:
        return int(side.state.faults_served[operation])


def _clear(matrix: Stack) -> None:
    for side in (matrix.sandbox.hubspot, matrix.sandbox.salesforce):
        with side.lock:
            side.state.faults.clear()


def _decisions(db: Database, keys: list[str]) -> dict[str, Decision]:
    with db.transaction() as session:
        rows = session.scalars(select(Decision).where(col(Decision.record_key).in_(keys)))
        return {d.record_key: d for d in rows}


def _settled(db: Database, keys: list[str]) -> bool:
    with db.transaction() as session:
        busy_events = session.scalars(
            select(InboxEvent.id).where(  # type: ignore[call-overload]
                col(InboxEvent.record_key).in_(keys),
                col(InboxEvent.status).in_([Status.PENDING, Status.PROCESSING]),
            )
        ).first()
        busy_writes = session.scalars(
            select(OutboxWrite.id).where(  # type: ignore[call-overload]
                col(OutboxWrite.record_key).in_(keys),
                col(OutboxWrite.status).in_([Status.PENDING, Status.PROCESSING]),
            )
        ).first()
    decisions = _decisions(db, keys)
    return (
        busy_events is None
        and busy_writes is None
        and all(k in decisions and decisions[k].written_at is not None for k in keys)
    )


def _dead(db: Database, keys: list[str]) -> list[str]:
    with db.transaction() as session:
        events = session.scalars(
            select(InboxEvent).where(
                col(InboxEvent.record_key).in_(keys), col(InboxEvent.status) == Status.DEAD
            )
        ).all()
        writes = session.scalars(
            select(OutboxWrite).where(
                col(OutboxWrite.record_key).in_(keys), col(OutboxWrite.status) == Status.DEAD
            )
        ).all()
    return [f"{e.record_key}: {e.last_error}" for e in events] + [
        f"{w.record_key}: {w.last_error}" for w in writes
    ]


def _case(stack: Stack, crm: str, operation: str, fault: str, span: str) -> None:
    """One case: the fault on the operation, a lead in each CRM, then every promise checked."""
    sandbox, db = stack.sandbox, stack.db
    n = next(stack.seq)
    _clear(stack)
    before = _served(stack, crm, operation)
    if operation == "oauth.token":
        with sandbox.salesforce.lock:  # the next Salesforce call must log in again
            sandbox.salesforce.state.tokens.clear()
    _inject(stack, crm, operation, **FAULTS[fault], **SPANS[span])

    # one lead in each CRM; between them they make Relais call every operation
    # (sales-ready: only those are routed, and every operation must be met)
    [contact] = sandbox.hubspot.create_contacts(
        [ready(f"contact{n}@matrix.example", firstname="Léa", company="BétonSud")]
    )
    [lead] = sandbox.salesforce.create_records(
        "Lead", [sf_lead(n, Email=f"lead{n}@matrix.example", LastName=f"Durand{n}")]
    )
    keys = [f"hubspot:contact:{contact}", f"salesforce:Lead:{lead}"]
    wait_for(
        lambda: _settled(db, keys) or _dead(db, keys),
        timeout=40,
        what="both leads settled",
        interval=0.1,  # eight stacks poll side by side: leave the CPU to Relais
    )
    assert _dead(db, keys) == [], "dead-lettered"
    _clear(stack)

    met = _served(stack, crm, operation) - before
    expected = SPANS[span].get("times", 2)  # a timed fault is met at least twice
    if fault == "answer lost" and operation in WRITES:
        expected = 1  # the write landed the first time: it is confirmed, never sent again
    assert met >= expected, f"the fault was met {met} times, not {expected}: not exercised"

    decisions = _decisions(db, keys)
    rep_by_owner_id = {o.id: o.email for o in sandbox.hubspot.state.owners.values()}
    hs_contact = sandbox.hubspot.state.contacts[contact]
    assert rep_by_owner_id[str(hs_contact.properties["hubspot_owner_id"])] == (
        decisions[keys[0]].owner_email
    ), "the HubSpot contact is not owned by its decided rep"
    assert hs_contact.owner_writes == 1, f"HubSpot owner written {hs_contact.owner_writes} times"
    sf_owner = sandbox.salesforce.record("Lead", lead)["OwnerId"]
    assert sandbox.salesforce.state.records["User"][sf_owner]["Email"] == (
        decisions[keys[1]].owner_email
    ), "the Salesforce Lead is not owned by its decided rep"
    writes = sandbox.salesforce.state.owner_writes[lead]
    assert writes == 1, f"Salesforce owner written {writes} times"


def _run_operation(stack: Stack, crm: str, operation: str) -> list[str]:
    """Every fault x every span on one operation, in turn; the failures, described."""
    failures = []
    for fault in FAULTS:
        for span in SPANS:
            try:
                _case(stack, crm, operation, fault, span)
            except AssertionError as exc:
                failures.append(f"{operation} x {fault} x {span}: {exc}")
    return failures


def run_group(group: list[tuple[str, str, str]]) -> list[str]:
    """In a process of its own: a stack per (database URL, CRM, operation), side by side."""
    stacks = [_stack(url) for url, _, _ in group]
    try:
        with ThreadPoolExecutor(len(stacks)) as pool:
            results = list(
                pool.map(
                    lambda args: _run_operation(*args),
                    [(stack, crm, op) for stack, (_, crm, op) in zip(stacks, group, strict=True)],
                )
            )
    finally:
        for stack in stacks:
            stack.close()
    return [f for result in results for f in result]


def test_every_lead_is_owned_once_whatever_transient_fault_each_operation_meets(
    _migrated_template: str,  # noqa: PT019 (its value: the migrated template)
    tmp_path: Path,
) -> None:
    """Each operation gets a stack of its own (sandbox, Relais, database); the eight run side
    by side, in two processes (two cores); within a stack its 24 cases run in turn. Every
    failing case is reported."""
    urls = [_database(_migrated_template, i, tmp_path) for i in range(len(OPERATIONS))]
    cases = [(url, crm, op) for url, (crm, op) in zip(urls, OPERATIONS, strict=True)]
    groups = [cases[0::2], cases[1::2]]
    try:
        with ProcessPoolExecutor(len(groups), mp_context=get_context("spawn")) as pool:
            failures = [f for result in pool.map(run_group, groups) for f in result]
    finally:
        for url in urls:
            _drop(url)
    total = len(OPERATIONS) * len(FAULTS) * len(SPANS)
    assert failures == [], f"{len(failures)} of {total} cases failed:\n" + "\n".join(failures)
