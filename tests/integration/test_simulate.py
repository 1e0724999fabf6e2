"""The dry run through its two edges, `relais simulate` and POST /admin/api/simulate, with the
sandbox CRMs over HTTP: the result the service computes, the CRM records read as the pipeline
reads them, enrichment (the register on respx), precise errors, and nothing written (no row,
not even the enrichment cache; no CRM write)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
import respx
from pydantic import SecretStr
from sqlalchemy import func, select
from typer.testing import CliRunner

from app.cli import cli
from app.config import Settings
from app.db import Database, utcnow
from app.enrichment.models import EnrichmentCacheEntry
from app.enrichment.register import URL as REGISTER_URL
from app.mappings.loader import load_mappings
from app.models import metadata
from app.simulate.service import evaluate, parse_lead
from connectors.sandbox import SandboxServer
from tests.conftest import TOKEN, Relais
from tests.unit.test_enrichment_register import SIREN, company, search

ADMIN = {"Authorization": "Bearer adm"}
LEAD = {"title": "DRH", "company_size": 250, "industry": "construction", "country": "FR"}


@pytest.fixture
def admin(relais_factory: Callable[..., Relais], settings: Settings) -> Relais:
    """Relais with an admin token and no worker: whatever reached the database would stay."""
    return relais_factory(
        settings.model_copy(update={"admin_tokens": SecretStr("adm")}), worker=False
    )


def _rows(db: Database) -> dict[str, int]:
    with db.transaction() as session:
        return {
            t.name: session.execute(select(func.count()).select_from(t)).scalar_one()
            for t in metadata().sorted_tables
        }


def _writes(sandbox: SandboxServer) -> int:
    """CRM write calls, both CRMs (the reads of --record are the only calls allowed)."""
    hubspot = sandbox.hubspot.state.calls
    salesforce = sandbox.salesforce.state.calls
    return (
        hubspot["contacts.batch_update"]
        + hubspot["contacts.create"]
        + salesforce["composite.sobjects.update"]
    )


def _ran_between(result: dict[str, object], before: datetime, after: datetime) -> datetime:
    """The result's ``at``: when the simulation ran, in UTC (Z), between ``before`` and
    ``after``."""
    text = result["at"]
    assert isinstance(text, str) and text.endswith("Z"), text
    at = datetime.fromisoformat(text)
    assert before <= at <= after, (before, at, after)
    return at


def _cli_env(monkeypatch: pytest.MonkeyPatch, settings: Settings) -> None:
    """`relais simulate` configured like the test's Relais: the sandbox CRMs, its database."""
    sf_secret = settings.salesforce_client_secret
    assert sf_secret is not None
    env = {
        "RELAIS_DATABASE_URL": settings.database_url,
        "RELAIS_MAPPINGS_DIR": str(settings.mappings_dir),
        "RELAIS_HUBSPOT_BASE_URL": settings.hubspot_base_url,
        "RELAIS_HUBSPOT_ACCESS_TOKEN": TOKEN,
        "RELAIS_SALESFORCE_LOGIN_URL": settings.salesforce_login_url,
        "RELAIS_SALESFORCE_CLIENT_ID": settings.salesforce_client_id or "",
        "RELAIS_SALESFORCE_CLIENT_SECRET": sf_secret.get_secret_value(),
        "RELAIS_SALESFORCE_CA_BUNDLE": str(settings.salesforce_ca_bundle),
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)


def test_given_a_lead_as_fields_when_posted_then_the_api_returns_the_service_result_and_writes_nothing(  # noqa: E501
    admin: Relais, sandbox: SandboxServer, db: Database, http: httpx.Client
) -> None:
    before, calls = _rows(db), sandbox.hubspot.state.api_calls + sandbox.salesforce.state.api_calls
    start = datetime.now(UTC)
    resp = http.post(f"{admin.url}/admin/api/simulate", json={"lead": LEAD}, headers=ADMIN)
    assert resp.status_code == 200, resp.text
    at = _ran_between(resp.json(), start, datetime.now(UTC))
    m = load_mappings(admin.settings.mappings_dir)
    expected = evaluate(parse_lead(LEAD, m.field_names()), m, at)
    assert resp.json() == expected.to_json()
    assert resp.json()["score"] == 170 and resp.json()["temperature"] == "warm"
    # the shipped qualification.yaml keeps a lead without a valid email in marketing
    assert resp.json()["qualification"]["outcome"] == "incomplete"
    assert resp.json()["routed"] is False
    assert _rows(db) == before  # no decision, no outbox write, no inbox event
    assert sandbox.hubspot.state.api_calls + sandbox.salesforce.state.api_calls == calls


def test_given_records_in_both_sandbox_crms_when_posted_by_record_then_they_are_read_mapped_and_nothing_is_written(  # noqa: E501
    admin: Relais, sandbox: SandboxServer, db: Database, http: httpx.Client
) -> None:
    [contact] = sandbox.hubspot.create_contacts(
        [{"email": "rh@btp.example", "jobtitle": "DRH", "industry": "CONSTRUCTION"}]
    )
    [lead] = sandbox.salesforce.create_records(
        "Lead", [{"Email": "p@x.fr", "LastName": "P", "Title": "Gestionnaire paie"}]
    )
    before = _rows(db)
    url = f"{admin.url}/admin/api/simulate"
    hs = http.post(url, json={"record": f"hubspot:{contact}"}, headers=ADMIN)
    assert hs.status_code == 200, hs.text
    assert hs.json()["record"] == f"hubspot:contact:{contact}"
    assert hs.json()["lead"]["industry"] == "construction"  # HubSpot's value, mapped
    assert [r["rule"] for r in hs.json()["breakdown"]] == [
        "HR director or HR manager",
        "Industry or construction",
    ]
    sf = http.post(url, json={"record": f"salesforce:{lead[:15]}"}, headers=ADMIN)
    assert sf.status_code == 200, sf.text
    assert sf.json()["record"] == f"salesforce:Lead:{lead}"
    assert sf.json()["lead"]["title"] == "Gestionnaire paie" and sf.json()["score"] == 40
    assert sandbox.hubspot.state.calls["contacts.batch_read"] >= 1
    assert _writes(sandbox) == 0
    assert _rows(db) == before


@pytest.mark.parametrize(
    ("body", "status", "detail"),
    [
        ({"lead": {"titel": "DRH"}}, 422, "unknown field 'titel', did you mean 'title'?"),
        ({"lead": {"title": ["DRH"]}}, 422, "field 'title': a list is not a value"),
        ({"lead": {}, "at": "2026-12-01"}, 422, "has no time zone"),
        ({"record": "hubspot:999999"}, 404, "hubspot:contact:999999 not found in HubSpot"),
        ({"record": "salesforce:0015g00000AbCdE"}, 422, "neither a Lead id (00Q...)"),
        ({"lead": {"title": "x" * 70_000}}, 413, "larger than 64 KiB"),
    ],
)
def test_given_a_bad_request_when_posted_then_the_api_refuses_it_precisely(
    admin: Relais, http: httpx.Client, body: object, status: int, detail: str
) -> None:
    resp = http.post(f"{admin.url}/admin/api/simulate", json=body, headers=ADMIN)
    assert resp.status_code == status, resp.text
    assert detail in resp.json()["detail"]
    assert detail in "\n".join(resp.json()["errors"])


def test_given_a_body_that_is_not_json_when_posted_then_it_is_422_and_without_a_token_401(
    admin: Relais, http: httpx.Client
) -> None:
    url = f"{admin.url}/admin/api/simulate"
    resp = http.post(url, content=b'{"lead": ', headers=ADMIN)
    assert resp.status_code == 422 and "the body is not JSON" in resp.json()["detail"]
    assert http.post(url, json={"lead": LEAD}).status_code == 401


def test_given_a_lead_file_when_simulated_on_the_command_line_then_it_prints_the_api_result(
    admin: Relais,
    settings: Settings,
    db: Database,
    http: httpx.Client,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _cli_env(monkeypatch, settings)
    path = tmp_path / "lead.json"
    path.write_text(json.dumps(LEAD))
    before, start = _rows(db), datetime.now(UTC)
    shown = CliRunner().invoke(cli, ["simulate", str(path)])
    assert shown.exit_code == 0, shown.output
    api = http.post(f"{admin.url}/admin/api/simulate", json={"lead": LEAD}, headers=ADMIN)
    printed, answered = json.loads(shown.stdout), api.json()
    ran = _ran_between(printed, start, datetime.now(UTC))
    assert ran <= _ran_between(answered, start, datetime.now(UTC))
    del printed["at"], answered["at"]
    assert printed == answered  # one service, two edges
    assert _rows(db) == before


def test_given_sandbox_records_when_simulated_with_record_then_the_cli_reads_them_and_writes_nothing(  # noqa: E501
    sandbox: SandboxServer,
    settings: Settings,
    db: Database,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _cli_env(monkeypatch, settings)
    [contact] = sandbox.hubspot.create_contacts([{"email": "a@b.fr", "jobtitle": "Resp. RH"}])
    [lead] = sandbox.salesforce.create_records("Lead", [{"LastName": "P", "Title": "DRH"}])
    before = _rows(db)
    for record, key in [
        (f"hubspot:{contact}", f"hubspot:contact:{contact}"),
        (f"salesforce:{lead}", f"salesforce:Lead:{lead}"),
        (f"salesforce:Lead:{lead[:15]}", f"salesforce:Lead:{lead}"),
    ]:
        shown = CliRunner().invoke(cli, ["simulate", "--record", record])
        assert shown.exit_code == 0, shown.output
        result = json.loads(shown.stdout)
        assert result["record"] == key and result["score"] == 60
    assert _writes(sandbox) == 0
    assert _rows(db) == before


def test_given_the_help_when_read_then_it_says_what_is_simulated_today() -> None:
    shown = CliRunner().invoke(cli, ["simulate", "--help"], terminal_width=200)
    assert shown.exit_code == 0
    text = " ".join(shown.stdout.split())
    assert "Simulated today: the read of --record, enrichment" in text and "qualification" in text
    assert "routing" in text and "not even the enrichment cache" in text
    assert "--at" in text and "--no-enrich" in text


def test_given_bad_input_when_simulated_on_the_command_line_then_it_exits_1_with_the_reason(
    sandbox: SandboxServer,
    settings: Settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _cli_env(monkeypatch, settings)
    not_json, array = tmp_path / "lead.json", tmp_path / "array.json"
    not_json.write_text("title: DRH\n")
    array.write_text('["DRH"]')
    cases = [
        ([str(not_json)], f"{not_json} is not JSON: Expecting value at line 1 column 1"),
        ([str(array)], "the lead must be a JSON object of canonical fields"),
        (["--record", "hubspot:999999"], "hubspot:contact:999999 not found in HubSpot"),
        (["--record", "hubspot:1", str(array)], "give a LEAD.json file or --record"),
    ]
    for args, message in cases:
        shown = CliRunner().invoke(cli, ["simulate", *args])
        assert shown.exit_code == 1, (args, shown.output)
        assert message in shown.stderr, (args, shown.stderr)
    ok = tmp_path / "ok.json"
    ok.write_text('{"title": "DRH"}')
    shown = CliRunner().invoke(cli, ["simulate", str(ok), "--at", "now"])
    assert shown.exit_code == 1 and "--at 'now' is not an ISO 8601 instant" in shown.stderr
    monkeypatch.delenv("RELAIS_SALESFORCE_CLIENT_ID")
    shown = CliRunner().invoke(cli, ["simulate", "--record", "salesforce:00Q5g00000AbCdE"])
    assert shown.exit_code == 1
    assert "Salesforce is not configured in this process: set RELAIS_SALESFORCE_CLIENT_ID" in (
        shown.stderr
    )


CACHED = "552100554"  # a SIREN whose register answer the worker kept


def test_given_enrichment_when_posted_then_the_register_is_asked_the_cache_read_and_no_row_written(
    relais_factory: Callable[..., Relais],
    settings: Settings,
    db: Database,
    http: httpx.Client,
    tmp_path: Path,
) -> None:
    folder = tmp_path / "mappings"
    shutil.copytree(settings.mappings_dir, folder)
    (folder / "enrichment.yaml").write_text("providers: [email, siren, register]\n")
    relais = relais_factory(
        settings.model_copy(update={"admin_tokens": SecretStr("adm"), "mappings_dir": folder}),
        worker=False,
    )
    kept = {"naf_code": "29.10Z", "naf_section": "C", "company_active": "true"}
    with db.transaction() as session:
        session.add(
            EnrichmentCacheEntry(provider="register", key=CACHED, value=kept, fetched_at=utcnow())
        )
    url, before = f"{relais.url}/admin/api/simulate", _rows(db)
    with respx.mock(assert_all_called=False) as router:
        register = router.get(REGISTER_URL).respond(json=search(company()))
        router.route().pass_through()  # Relais itself
        asked = http.post(url, json={"lead": {**LEAD, "siren": SIREN}}, headers=ADMIN)
        cached = http.post(url, json={"lead": {**LEAD, "siren": CACHED}}, headers=ADMIN)
        plain = http.post(url, json={"lead": LEAD, "enrich": False}, headers=ADMIN)
    assert asked.status_code == cached.status_code == plain.status_code == 200, asked.text
    enrichment = asked.json()["enrichment"]
    assert enrichment["providers"] == ["email", "siren", "register"]
    assert enrichment["found"]["naf_code"] == "62.01Z" and enrichment["gaps"] == []
    assert asked.json()["lead"]["naf_section"] == "J"
    assert cached.json()["enrichment"]["found"]["naf_code"] == "29.10Z"  # the cache, read
    assert register.call_count == 1  # the cached SIREN was not asked
    assert plain.json()["enrichment"] is None and "email_valid" not in plain.json()["lead"]
    assert _rows(db) == before  # the register's answer was not kept: a dry run writes nothing
