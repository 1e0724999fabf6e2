"""`relais sandbox` hands `relais serve` everything it needs: the two commands, run as a user
runs them (subprocesses, the environment file sourced), route a HubSpot contact and a
Salesforce Lead created through the sandbox's control API."""

from __future__ import annotations

import os
import shlex
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.demo_data import make_leads
from tests.conftest import ROOT, wait_for

TEAM = {
    "claire.martin@paieco.example",
    "hugo.bernard@paieco.example",
    "ines.dubois@paieco.example",
    "lucas.moreau@paieco.example",
}  # the active reps of mappings/team.yaml


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def read_env_file(path: Path) -> dict[str, str]:
    """What `set -a; . FILE` would export (the file is KEY=value lines, shell-quoted)."""
    env: dict[str, str] = {}
    for line in path.read_text().splitlines():
        [assignment] = shlex.split(line)
        key, _, value = assignment.partition("=")
        env[key] = value
    return env


@pytest.fixture
def processes(tmp_path: Path) -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for proc in reversed(started):
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def relais_cli(
    args: list[str], env: dict[str, str], log: Path, started: list[subprocess.Popen[bytes]]
) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "app.cli", *args],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    started.append(proc)
    return proc


def up(url: str, proc: subprocess.Popen[bytes], log: Path) -> bool:
    if proc.poll() is not None:
        raise AssertionError(f"exited with {proc.returncode}:\n{log.read_text()}")
    try:
        return httpx.get(url, timeout=1, trust_env=False).status_code == 200
    except httpx.TransportError:
        return False


def test_relais_serve_with_the_printed_environment_routes_leads_of_both_sandbox_crms(
    tmp_path: Path,
    database_url: str,
    processes: list[subprocess.Popen[bytes]],
    routing_mappings: Path,
) -> None:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("RELAIS_")}
    port, tls_port, relais_port = free_port(), free_port(), free_port()
    env_file, sandbox_log, relais_log = (
        tmp_path / "sandbox.env",
        tmp_path / "sandbox.log",
        tmp_path / "relais.log",
    )
    sandbox_cmd = ["sandbox", "--port", str(port), "--tls-port", str(tls_port)]
    sandbox_cmd += ["--env-file", str(env_file), "--relais-url", f"http://127.0.0.1:{relais_port}"]
    sandbox = relais_cli(sandbox_cmd, clean, sandbox_log, processes)
    control = f"http://127.0.0.1:{port}"
    wait_for(lambda: up(f"{control}/_sandbox/healthz", sandbox, sandbox_log), what="the sandbox")

    env = read_env_file(env_file)
    assert env_file.stat().st_mode & 0o077 == 0  # secrets: readable by its owner only
    assert env["RELAIS_HUBSPOT_BASE_URL"] == control
    assert env["RELAIS_SALESFORCE_LOGIN_URL"] == f"https://127.0.0.1:{tls_port}"
    assert Path(env["RELAIS_SALESFORCE_CA_BUNDLE"]).is_file()
    printed = sandbox_log.read_text()
    assert all(f"export {k}=" in printed for k in env)  # the same environment, on the screen

    relais = relais_cli(
        ["serve", "--port", str(relais_port)],
        {
            **clean,
            **env,
            "RELAIS_DATABASE_URL": database_url,
            "RELAIS_MAPPINGS_DIR": str(routing_mappings),  # no calendars: whatever the hour
            "RELAIS_WORKER_POLL_SECONDS": "0.05",
        },
        relais_log,
        processes,
    )
    wait_for(
        lambda: up(f"http://127.0.0.1:{relais_port}/healthz", relais, relais_log),
        timeout=30,
        what="relais serve",
    )

    with httpx.Client(base_url=control, timeout=5, trust_env=False) as http:
        created = http.post("/_sandbox/hubspot/contacts", json={"contacts": make_leads(1)})
        [contact] = created.json()["ids"]
        [lead] = http.post("/_sandbox/salesforce/leads", json={"leads": [SF_LEAD]}).json()["ids"]

        def contact_owner() -> Any:
            properties = http.get(f"/_sandbox/hubspot/contacts/{contact}").json()["properties"]
            return properties.get("hubspot_owner_id")

        def lead_owner_email() -> str | None:
            owner = http.get(f"/_sandbox/salesforce/Lead/{lead}").json()["OwnerId"]
            email = http.get(f"/_sandbox/salesforce/User/{owner}").json().get("Email")
            return str(email) if email in TEAM else None  # not the org's default owner

        owner_id = wait_for(contact_owner, timeout=30, what="an owner in HubSpot (relais.log)")
        assert wait_for(lead_owner_email, timeout=30, what="a rep owning the Salesforce Lead")
        token = env["RELAIS_HUBSPOT_ACCESS_TOKEN"]
        owners = http.get("/crm/v3/owners", headers={"Authorization": f"Bearer {token}"}).json()
        assert {o["id"]: o["email"] for o in owners["results"]}[owner_id] in TEAM


SF_LEAD = {
    "Email": "lea.durand@betonsud.fr",
    "LastName": "Durand",
    "FirstName": "Léa",
    "Company": "BétonSud SAS",
    "Title": "Responsable RH",
    "NumberOfEmployees": "90",
    "Industry": "CONSTRUCTION",
}
