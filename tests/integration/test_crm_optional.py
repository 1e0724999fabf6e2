"""Every CRM is optional: Relais runs with whatever is configured, says at start what is on and
what is missing, and events for a CRM it cannot reach wait in the inbox (and /readyz says why)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from app.config import Settings
from app.db import Database
from app.queue import Status
from connectors.sandbox import SandboxServer
from tests.conftest import ROOT, Relais, connect_salesforce, connect_webhooks, wait_for
from tests.integration.helpers import creation_events, dumps, inbox_count, signed_post
from tests.integration.test_salesforce_end_to_end import owned_by_team, sf_lead

NO_HUBSPOT: dict[str, Any] = {"hubspot_access_token": None, "hubspot_client_secret": None}
NO_SALESFORCE: dict[str, Any] = {
    "salesforce_client_id": None,
    "salesforce_client_secret": None,
    "salesforce_org_id": None,
    "salesforce_webhook_secret": None,
}


def _env(settings: Settings) -> dict[str, str]:
    """The process environment for these settings: only what is configured is set."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RELAIS_")}
    for name, value in settings.model_dump().items():
        if value is None:
            continue
        raw = value.get_secret_value() if hasattr(value, "get_secret_value") else value
        env[f"RELAIS_{name.upper()}"] = str(raw).lower() if isinstance(raw, bool) else str(raw)
    return env


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def serve(http: httpx.Client) -> Iterator[Callable[[Settings], tuple[str, list[str]]]]:
    """Start a real `relais serve` with these settings: (its URL, the lines it printed)."""
    procs: list[subprocess.Popen[str]] = []

    def start(settings: Settings) -> tuple[str, list[str]]:
        port = _free_port()
        proc = subprocess.Popen(
            [sys.executable, "-m", "app.cli", "serve", "--port", str(port)],
            cwd=ROOT,
            env=_env(settings),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        procs.append(proc)
        url = f"http://127.0.0.1:{port}"

        def up() -> bool:
            try:
                return http.get(f"{url}/healthz").status_code == 200
            except httpx.HTTPError:
                return False

        wait_for(up, what="relais serve up")
        assert proc.stderr is not None
        lines = []
        for line in proc.stderr:  # the report, then the address, before the server starts
            if line.startswith("relais serve: listening on"):
                break
            lines.append(line.rstrip())
        stream = proc.stderr
        # keep reading what follows, so that the server never blocks on a full pipe
        threading.Thread(target=lambda: all(True for _ in stream), daemon=True).start()
        return url, lines

    yield start
    for proc in procs:
        proc.terminate()
        proc.wait(timeout=15)


def test_a_salesforce_only_org_runs_and_routes_its_leads(
    sandbox: SandboxServer,
    settings: Settings,
    serve: Callable[[Settings], tuple[str, list[str]]],
    http: httpx.Client,
    relais_factory: Callable[..., Relais],
) -> None:
    sf_only = settings.model_copy(update=NO_HUBSPOT)
    url, lines = serve(sf_only)
    text = "\n".join(lines)
    assert "HubSpot: connector off; webhooks: /webhooks/hubspot off" in text
    assert "RELAIS_HUBSPOT_ACCESS_TOKEN" in text and "RELAIS_HUBSPOT_CLIENT_SECRET" in text
    assert "Salesforce: connector on" in text
    ready = http.get(f"{url}/readyz")
    assert ready.status_code == 200, ready.text
    body = ready.json()
    assert body["crms"]["hubspot"]["connector"] == "not configured"
    assert body["crms"]["salesforce"]["connector"] == "on"
    assert http.post(f"{url}/webhooks/hubspot", content=b"[]").status_code == 503

    # and it does its job: Salesforce leads get their reps
    relais = relais_factory(sf_only)
    connect_salesforce(sandbox, relais)
    ids = sandbox.salesforce.create_records("Lead", [sf_lead(i) for i in range(3)])
    wait_for(lambda: owned_by_team(sandbox, ids), what="Salesforce leads owned")


def test_a_hubspot_only_start_says_what_salesforce_needs(
    settings: Settings, serve: Callable[[Settings], tuple[str, list[str]]], http: httpx.Client
) -> None:
    url, lines = serve(settings.model_copy(update=NO_SALESFORCE))
    text = "\n".join(lines)
    assert "HubSpot: connector on; webhooks: /webhooks/hubspot on" in text
    assert "Salesforce: connector off" in text and "RELAIS_SALESFORCE_CLIENT_ID" in text
    body = http.get(f"{url}/readyz").json()
    assert body["status"] == "ready"
    assert body["crms"]["salesforce"]["connector"] == "not configured"
    assert http.post(f"{url}/webhooks/salesforce", content=b"{}").status_code == 503


def test_with_nothing_configured_serve_names_both_crms_and_is_not_ready(
    settings: Settings, serve: Callable[[Settings], tuple[str, list[str]]], http: httpx.Client
) -> None:
    bare = settings.model_copy(update={**NO_HUBSPOT, **NO_SALESFORCE})
    url, lines = serve(bare)
    text = "\n".join(lines)
    assert "HubSpot: connector off" in text and "Salesforce: connector off" in text
    assert "No CRM connector is configured" in text
    ready = http.get(f"{url}/readyz")
    assert ready.status_code == 503
    assert "no CRM configured" in ready.json()["checks"]["crms"]


def test_with_nothing_configured_a_worker_exits_and_names_both_crms(settings: Settings) -> None:
    bare = settings.model_copy(update={**NO_HUBSPOT, **NO_SALESFORCE})
    proc = subprocess.run(
        [sys.executable, "-m", "app.cli", "worker"],
        cwd=ROOT,
        env=_env(bare),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert "RELAIS_HUBSPOT_ACCESS_TOKEN" in proc.stderr
    assert "RELAIS_SALESFORCE_CLIENT_ID" in proc.stderr
    assert "no CRM connector to work with" in proc.stderr


def test_hubspot_events_wait_in_the_inbox_while_its_connector_is_not_configured(
    sandbox: SandboxServer,
    settings: Settings,
    relais_factory: Callable[..., Relais],
    db: Database,
    http: httpx.Client,
) -> None:
    # webhooks on (the client secret is set), but no access token to read or write contacts
    relais = relais_factory(settings.model_copy(update={"hubspot_access_token": None}))
    secret = settings.hubspot_client_secret
    assert secret is not None
    resp = signed_post(
        http, relais.webhook_url, secret.get_secret_value(), dumps(creation_events([1001, 1002]))
    )
    assert resp.status_code == 200
    # Salesforce keeps working beside it
    connect_salesforce(sandbox, relais)
    ids = sandbox.salesforce.create_records("Lead", [sf_lead(1)])
    wait_for(lambda: owned_by_team(sandbox, ids), what="the Salesforce lead owned")
    # the HubSpot events were never attempted: they wait, and /readyz says why
    assert inbox_count(db, crm="hubspot", status=Status.PENDING, attempts=0) == 2
    body = http.get(f"{relais.url}/readyz").json()
    hubspot = body["crms"]["hubspot"]
    assert hubspot["events_waiting"] == 2
    assert "RELAIS_HUBSPOT_ACCESS_TOKEN" in hubspot["why_waiting"]
    assert body["status"] == "ready"  # still receiving and storing: never refuse the CRMs

    # once the token is set, a worker that can reach HubSpot takes them
    connect_webhooks(sandbox, relais)  # (nothing else changes)
    relais_factory(settings)  # a process with the token
    wait_for(
        lambda: inbox_count(db, crm="hubspot", status=Status.PENDING) == 0,
        what="the waiting events taken",
    )
