"""Fixtures: a real database built by the migrations, the sandbox over HTTP, Relais over HTTP.

RELAIS_TEST_DATABASE=postgresql runs everything against RELAIS_TEST_POSTGRES_URL (in a
schema of its own, rebuilt by the migrations once per run, emptied before each test);
otherwise each test gets its own SQLite file, copied from one migrated template.
"""

from __future__ import annotations

import os
import secrets
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from sqlalchemy import create_engine, text

from app import migrations
from app.config import Settings
from app.db import Database
from app.main import create_app
from app.models import metadata
from app.runtime import Runtime
from connectors.salesforce import SalesforceSettings
from connectors.sandbox import SandboxServer
from connectors.sandbox.server import ThreadedServer
from connectors.sandbox.webhooks import WebhookConfig

ROOT = Path(__file__).resolve().parent.parent
# One schema per pytest-xdist worker (gw0, gw1, ...): the workers run side by side.
_XDIST_WORKER = os.environ.get("PYTEST_XDIST_WORKER")
PG_SCHEMA = f"relais_test_{_XDIST_WORKER}" if _XDIST_WORKER else "relais_test"
USE_POSTGRES = os.environ.get("RELAIS_TEST_DATABASE") == "postgresql"
TOKEN = "test-hubspot-token"
REPS = [
    ("claire.martin@paieco.example", "Claire", "Martin"),
    ("hugo.bernard@paieco.example", "Hugo", "Bernard"),
    ("ines.dubois@paieco.example", "Inès", "Dubois"),
    ("lucas.moreau@paieco.example", "Lucas", "Moreau"),
    ("sarah.petit@paieco.example", "Sarah", "Petit"),
]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if USE_POSTGRES:
        return
    skip = pytest.mark.skip(reason="needs PostgreSQL: run `python3 dev.py test --postgres`")
    for item in items:
        if "postgres_only" in item.keywords:
            item.add_marker(skip)


def wait_for(
    predicate: Callable[[], Any],
    timeout: float = 20.0,
    what: str = "condition",
    interval: float = 0.02,
) -> Any:
    """Poll ``predicate`` until it returns something truthy (synchronisation, not a sleep)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


CALENDAR_KEYS = ("working_hours", "out_of_office", "capacity")


def copy_mappings(target: Path, *, calendar: bool = False) -> Path:
    """A copy of the shipped mappings/ a test may edit. Without ``calendar`` the reps' working
    hours, absences and caps are left out: a test about routing must not depend on the hour or
    the date it runs at (the tests of availability fix the clock and give their own)."""
    shutil.copytree(ROOT / "mappings", target)
    if not calendar:
        team = target / "team.yaml"
        data = yaml.safe_load(team.read_text())
        for rep in data["reps"]:
            for key in CALENDAR_KEYS:
                rep.pop(key, None)
        team.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False))
    return target


@pytest.fixture(scope="session")
def routing_mappings(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shipped mappings without the reps' calendars (read only: copy it to edit it)."""
    return copy_mappings(tmp_path_factory.mktemp("shipped") / "mappings")


def _pg_url() -> str:
    base = os.environ.get(
        "RELAIS_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
    )
    sep = "&" if "?" in base else "?"
    return f"{base}{sep}options=-csearch_path%3D{PG_SCHEMA}"


@pytest.fixture(scope="session")
def _migrated_template(tmp_path_factory: pytest.TempPathFactory) -> str:
    if USE_POSTGRES:
        url = _pg_url()
        try:
            engine = create_engine(url.split("?")[0])
            with engine.begin() as conn:
                conn.execute(text(f"DROP SCHEMA IF EXISTS {PG_SCHEMA} CASCADE"))
                conn.execute(text(f"CREATE SCHEMA {PG_SCHEMA}"))
            engine.dispose()
        except Exception as exc:  # CI must fail, not skip, when PostgreSQL is unreachable
            pytest.exit(f"PostgreSQL unreachable at {url}: {exc}", returncode=3)
        migrations.upgrade(url)
        return url
    path = tmp_path_factory.mktemp("template") / "template.db"
    url = f"sqlite:///{path}"
    migrations.upgrade(url)
    engine = create_engine(url)
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    return str(path)


@pytest.fixture
def database_url(_migrated_template: str, tmp_path: Path) -> str:
    if USE_POSTGRES:
        tables = ", ".join(t.name for t in metadata().sorted_tables)
        engine = create_engine(_migrated_template)
        with engine.begin() as conn:
            conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
        engine.dispose()
        return _migrated_template
    target = tmp_path / "relais.db"
    shutil.copyfile(_migrated_template, target)
    return f"sqlite:///{target}"


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    database = Database(database_url)
    yield database
    database.dispose()


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    server = SandboxServer(hubspot_token=TOKEN).start()
    for email, first, last in REPS:
        server.hubspot.add_owner(email, first, last)
        server.salesforce.add_user(email, first, last)
    yield server
    server.stop()


@pytest.fixture
def secret() -> str:
    return secrets.token_urlsafe(16)


@pytest.fixture
def settings(
    database_url: str, sandbox: SandboxServer, secret: str, routing_mappings: Path
) -> Settings:
    return Settings(
        database_url=database_url,
        mappings_dir=routing_mappings,
        hubspot_base_url=sandbox.url,
        hubspot_access_token=TOKEN,
        hubspot_client_secret=secret,
        worker_poll_seconds=0.05,
        worker_lease_seconds=5,
        retry_base_seconds=0.05,
        retry_max_seconds=0.5,
        retry_max_attempts=4,
        daily_limit_pause_seconds=3600,
        hubspot_max_attempts=2,
        hubspot_rate_limit_wait_seconds=0.5,
        hubspot_timeout_seconds=1,  # the lease (5 s) must cover a whole call (2 timeouts)
        salesforce_timeout_seconds=1,
        salesforce_org_id=sandbox.salesforce.state.org_id,
        salesforce_webhook_secret=f"flow-{secret}",
        salesforce_login_url=sandbox.salesforce_url,
        salesforce_client_id=sandbox.salesforce.state.client_id,
        salesforce_client_secret=sandbox.salesforce.state.client_secret,
        salesforce_ca_bundle=sandbox.ca_path,
        rescore_daily_at="off",  # rescoring runs when a test says (test_rescore_acceptance.py)
    )


@dataclass
class Relais:
    url: str
    runtime: Runtime
    settings: Settings

    @property
    def webhook_url(self) -> str:
        return f"{self.url}/webhooks/hubspot"


@pytest.fixture
def relais_factory() -> Iterator[Callable[..., Relais]]:
    servers: list[ThreadedServer] = []

    def start(
        settings: Settings, *, worker: bool = True, clock: Callable[[], Any] | None = None
    ) -> Relais:
        app = create_app(settings, embedded_worker=worker)
        if clock is not None:  # the instant availability is judged at, before the worker starts
            app.state.runtime.clock = clock
        server = ThreadedServer(app).start()
        servers.append(server)
        return Relais(server.url, app.state.runtime, settings)

    yield start
    for server in reversed(servers):
        server.stop()


@pytest.fixture
def relais(relais_factory: Callable[..., Relais], settings: Settings) -> Relais:
    """Relais with an embedded worker, on the sandbox."""
    return relais_factory(settings)


@pytest.fixture
def relais_no_worker(relais_factory: Callable[..., Relais], settings: Settings) -> Relais:
    """Relais that only stores: what reaches the inbox stays there to be inspected."""
    return relais_factory(settings, worker=False)


def connect_webhooks(sandbox: SandboxServer, relais: Relais, **kwargs: Any) -> None:
    secret = relais.settings.hubspot_client_secret
    assert secret is not None
    config = WebhookConfig(
        target_url=relais.webhook_url, client_secret=secret.get_secret_value(), **kwargs
    )
    sandbox.hubspot.webhooks.configure(config)


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=10, trust_env=False) as client:
        yield client


def salesforce_settings(sandbox: SandboxServer, **overrides: Any) -> SalesforceSettings:
    """Connector settings for the sandbox org: client credentials, trusting its CA."""
    values: dict[str, Any] = {
        "login_url": sandbox.salesforce_url,
        "client_id": sandbox.salesforce.state.client_id,
        "client_secret": sandbox.salesforce.state.client_secret,
        "ca_bundle": sandbox.ca_path,
    }
    values.update(overrides)
    return SalesforceSettings(**values)


def connect_salesforce(
    sandbox: SandboxServer, relais: Relais, mode: str = "outbound_message", **kwargs: Any
) -> None:
    """The sandbox org sends Outbound Messages (or signed Flow JSON) to Relais."""
    from connectors.sandbox.salesforce import NotificationSetup

    if mode == "flow":
        secret = relais.settings.salesforce_webhook_secret
        assert secret is not None
        setup = NotificationSetup(
            target_url=f"{relais.url}/webhooks/salesforce",
            mode="flow",
            flow_secret=secret.get_secret_value(),
            **kwargs,
        )
    else:
        setup = NotificationSetup(
            target_url=f"{relais.url}/webhooks/salesforce/outbound-message", **kwargs
        )
    sandbox.salesforce.notifications.configure(setup)
