"""Mappings in service: the admin API (tokens), reload without restart, SIGHUP, the check CLI,
and the check against the CRMs."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import select
from typer.testing import CliRunner

from app.cli import cli
from app.config import Settings
from app.db import Database
from app.decisions.models import Decision
from app.mappings.loader import load_mappings
from connectors.sandbox import SandboxServer
from tests.conftest import ROOT, TOKEN, Relais, connect_webhooks, wait_for
from tests.integration.workers import worker_env

ADMIN = "admin-token-for-tests"


@pytest.fixture
def mappings_copy(tmp_path: Path) -> Path:
    folder = tmp_path / "mappings"
    shutil.copytree(ROOT / "mappings", folder)
    return folder


@pytest.fixture
def admin_relais(
    relais_factory: Callable[..., Relais], settings: Settings, mappings_copy: Path
) -> Relais:
    return relais_factory(
        settings.model_copy(
            update={
                "mappings_dir": mappings_copy,
                "admin_tokens": SecretStr(f"other-token, {ADMIN}"),
            }
        )
    )


def auth(token: str = ADMIN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.mark.parametrize(
    "headers", [{}, auth("wrong"), {"Authorization": ADMIN}, {"Authorization": "Basic " + ADMIN}]
)
@pytest.mark.parametrize(
    ("method", "path"), [("GET", "/admin/api/mappings"), ("POST", "/admin/api/mappings/reload")]
)
def test_the_admin_api_needs_a_valid_token(
    admin_relais: Relais, http: httpx.Client, headers: dict[str, str], method: str, path: str
) -> None:
    resp = http.request(method, admin_relais.url + path, headers=headers)
    assert resp.status_code == 401
    assert resp.headers["www-authenticate"] == "Bearer"


def test_without_configured_tokens_the_admin_api_is_closed(
    relais: Relais, http: httpx.Client
) -> None:
    for headers in ({}, auth("anything")):
        resp = http.get(f"{relais.url}/admin/api/mappings", headers=headers)
        assert resp.status_code == 401


def test_reload_refuses_a_broken_version_and_switches_to_a_good_one(
    admin_relais: Relais,
    http: httpx.Client,
    mappings_copy: Path,
    sandbox: SandboxServer,
    db: Database,
) -> None:
    url = admin_relais.url
    active = http.get(f"{url}/admin/api/mappings", headers=auth()).json()
    assert active["source"] == str(mappings_copy) and "team.yaml" in active["files"]

    (mappings_copy / "scoring.yaml").write_text(
        "threshold: 150\nrules:\n  - name: x\n    field: title\n    op: equal\n"
    )
    refused = http.post(f"{url}/admin/api/mappings/reload", headers=auth())
    assert refused.status_code == 422
    body = refused.json()
    assert body["active_version"] == active["version"]
    assert any(
        "scoring.yaml:5: rules[0].op: unknown operator 'equal', did you mean 'eq'?" in e
        for e in body["errors"]
    )
    assert (
        http.get(f"{url}/admin/api/mappings", headers=auth()).json()["version"] == active["version"]
    )  # the old version keeps serving

    (mappings_copy / "scoring.yaml").write_text("threshold: 100\nrules: []\n")
    switched = http.post(f"{url}/admin/api/mappings/reload", headers=auth())
    assert switched.status_code == 200
    new_version = switched.json()["version"]
    assert new_version != active["version"]
    assert new_version == load_mappings(mappings_copy).version

    connect_webhooks(sandbox, admin_relais)
    sandbox.hubspot.create_contacts([{"email": "after@reload.fr"}])
    decision = wait_for(lambda: _first_decision(db), what="a decision")
    assert decision.mappings_version == new_version


def test_sighup_reloads_the_mappings_of_a_running_server(
    settings: Settings, mappings_copy: Path, http: httpx.Client, tmp_path: Path
) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = worker_env(
        settings.model_copy(update={"mappings_dir": mappings_copy}), RELAIS_ADMIN_TOKENS=ADMIN
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "serve", "--no-worker", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        url = f"http://127.0.0.1:{port}"

        def version() -> str | None:
            try:
                return str(http.get(f"{url}/admin/api/mappings", headers=auth()).json()["version"])
            except httpx.HTTPError:
                return None

        before = wait_for(version, what="the server up")
        (mappings_copy / "scoring.yaml").write_text("threshold: 99\nrules: []\n")
        proc.send_signal(signal.SIGHUP)
        wait_for(lambda: version() not in (None, before), what="the new version after SIGHUP")
        assert proc.poll() is None  # still serving
    finally:
        proc.terminate()
        proc.wait(timeout=15)


def test_mappings_check_exits_0_when_valid_and_1_with_every_error(mappings_copy: Path) -> None:
    runner = CliRunner()
    ok = runner.invoke(cli, ["mappings", "check", str(mappings_copy)])
    assert ok.exit_code == 0 and "valid (version" in ok.output
    (mappings_copy / "team.yaml").write_text("reps:\n  - email: x\n    nmae: X\n")
    bad = runner.invoke(cli, ["mappings", "check", str(mappings_copy)])
    assert bad.exit_code == 1
    assert f"{mappings_copy}/team.yaml:2: reps[0].email: expected an email address" in bad.output
    assert "reps[0].nmae: unknown key 'nmae', did you mean 'name'?" in bad.output


def test_mappings_schema_writes_one_schema_per_file(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["mappings", "schema", "--out", str(tmp_path)])
    assert result.exit_code == 0
    assert (tmp_path / "team.schema.json").is_file() and (tmp_path / "fields.schema.json").is_file()


def test_check_against_the_crms_reports_missing_property_value_and_rep(
    sandbox: SandboxServer, settings: Settings, mappings_copy: Path
) -> None:
    sandbox.salesforce.add_queue("Relais Nurture")  # the queue team.yaml names exists
    del sandbox.hubspot.properties["jobtitle"]  # the account has no such property
    sandbox.hubspot.properties["hs_lead_status"]["options"].remove("IN_PROGRESS")
    sandbox.salesforce.describe["Lead"]["Status"]["picklist"].remove("Working - Contacted")
    users = sandbox.salesforce.state.records["User"]
    hugo = next(u for u, r in users.items() if r["Email"].startswith("hugo"))
    users[hugo]["IsActive"] = False  # Hugo left Salesforce
    env = {k: v for k, v in worker_env(settings).items() if k.startswith("RELAIS_")}
    env.update(
        {
            "RELAIS_SALESFORCE_LOGIN_URL": settings.salesforce_login_url,
            "RELAIS_SALESFORCE_CLIENT_ID": str(settings.salesforce_client_id),
            "RELAIS_SALESFORCE_CLIENT_SECRET": sandbox.salesforce.state.client_secret,
            "RELAIS_SALESFORCE_CA_BUNDLE": str(settings.salesforce_ca_bundle),
            "RELAIS_HUBSPOT_ACCESS_TOKEN": TOKEN,
        }
    )
    result = CliRunner().invoke(
        cli, ["mappings", "check", str(mappings_copy), "--against-crm"], env=env
    )
    assert result.exit_code == 1, result.output
    out = result.output
    assert "fields.yaml:7: fields[3].hubspot: HubSpot has no contact property 'jobtitle'" in out
    assert (
        "values.yaml:17: value_maps[1].values[1].salesforce: 'Working - Contacted' is not "
        "a value of the Lead picklist 'Status'"
    ) in out
    assert (
        "team.yaml:11: reps[1].email: hugo.bernard@paieco.example has no active Salesforce "
        "user" in out
    )
    assert (
        "values.yaml:17: value_maps[1].values[1].hubspot: 'IN_PROGRESS' is not an option "
        "of HubSpot property 'hs_lead_status'"
    ) in out
    assert "4 problem(s) against the CRMs" in out


def _first_decision(db: Database) -> Decision | None:
    with db.transaction() as session:
        return session.scalars(select(Decision)).first()


def test_the_shipped_mappings_pass_the_check_against_the_sandbox_crms(
    sandbox: SandboxServer, settings: Settings
) -> None:
    from app.mappings.crm_check import check_against_crm
    from app.runtime import Runtime

    sandbox.salesforce.add_queue("Relais Nurture")
    runtime = Runtime.build(settings)
    try:
        problems = check_against_crm(
            load_mappings(ROOT / "mappings"), runtime.hubspot, runtime.salesforce
        )
    finally:
        runtime.close()
    assert problems == []
