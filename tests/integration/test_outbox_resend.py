"""A write the outbox sends again (its CRM failed longer than the connector's own retries) is
sent, confirmed, or explicitly superseded, never settled silently: through the sandboxes."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import select
from typer.testing import CliRunner

from app.cli import cli
from app.config import Settings
from app.db import Database
from app.decisions.models import Decision
from app.outbox.models import OutboxWrite
from app.queue import Status
from connectors.sandbox import SandboxServer
from connectors.sandbox.salesforce import SfFault
from tests.conftest import REPS, Relais, connect_salesforce, wait_for
from tests.integration.test_salesforce_end_to_end import sf_lead, sf_user_email

TEAM = {email for email, *_ in REPS}
UPDATE = "composite.sobjects.update"


def _writes(db: Database) -> list[OutboxWrite]:
    with db.transaction() as session:
        return list(session.scalars(select(OutboxWrite).order_by(OutboxWrite.id)))  # type: ignore[arg-type]


def _decision(db: Database, decision_id: int | None) -> Decision:
    with db.transaction() as session:
        decision = session.get(Decision, decision_id)
        assert decision is not None
        return decision


def _settled(db: Database) -> list[OutboxWrite]:
    writes = _writes(db)
    busy = [w for w in writes if w.status in (Status.PENDING, Status.PROCESSING)]
    return writes if writes and not busy else []


def test_a_salesforce_write_that_outlasts_the_connector_retries_is_sent_by_the_outbox(
    sandbox: SandboxServer, relais: Relais, db: Database
) -> None:
    sf = sandbox.salesforce
    # three 503s in a row: the connector's three tries all fail, the outbox must retry
    sf.state.faults.append(SfFault(operation=UPDATE, status=503, times=3))
    connect_salesforce(sandbox, relais)
    ids = sf.create_records("Lead", [sf_lead(i) for i in range(3)])
    [*writes] = wait_for(lambda: _settled(db), timeout=30, what="the writes settled")
    assert {w.status for w in writes} == {Status.DONE}
    assert all(w.attempts == 2 for w in writes)  # the outbox's second attempt sent them
    for w in writes:
        decision = _decision(db, w.decision_id)
        owner = sf.record("Lead", w.object_id)["OwnerId"]
        assert sf_user_email(sandbox, owner) == decision.owner_email in TEAM
        assert decision.written_at is not None
        assert "superseded" not in decision.details
    assert all(sf.state.owner_writes[i] == 1 for i in ids)  # written exactly once


def test_a_salesforce_write_retried_after_a_rep_took_the_lead_is_superseded_and_says_so(
    sandbox: SandboxServer,
    relais_factory: Callable[..., Relais],
    settings: Settings,
    db: Database,
    http: httpx.Client,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    relais = relais_factory(settings.model_copy(update={"admin_tokens": SecretStr("adm")}))
    sf = sandbox.salesforce
    sf.state.faults.append(SfFault(operation=UPDATE, status=503, times=3))
    connect_salesforce(sandbox, relais)
    [lead] = sf.create_records("Lead", [sf_lead(1)])
    [write] = wait_for(lambda: _writes(db), what="the decision")
    decided = _decision(db, write.decision_id).owner_email
    other = next(
        uid
        for uid, user in sf.state.records["User"].items()
        if user["Email"] in TEAM and user["Email"] != decided
    )
    with sf.lock:  # a manager gives the lead to another rep while our write waits
        sf.state.records["Lead"][lead]["OwnerId"] = other
    [write] = wait_for(lambda: _settled(db), timeout=30, what="the write settled")
    assert write.status == Status.SUPERSEDED
    assert sf.record("Lead", lead)["OwnerId"] == other  # the person's choice stands
    decision = _decision(db, write.decision_id)
    assert decision.written_at is None
    [note] = decision.details["superseded"]
    assert note["record"] == write.record_key
    assert "a rep of the team" in note["reason"]
    assert str(sf_user_email(sandbox, other)) in note["reason"]
    # the admin reads it in the decision's explanation, from the API and from the CLI
    resp = http.get(
        f"{relais.url}/admin/api/decisions/{write.record_key}",
        headers={"Authorization": "Bearer adm"},
    )
    assert resp.status_code == 200
    [view] = resp.json()
    superseded_line = next(line for line in view["explanation"] if "superseded" in line)
    assert write.record_key in superseded_line and "a rep of the team" in superseded_line
    assert not any("written at" in line for line in view["explanation"])
    monkeypatch.setenv("RELAIS_DATABASE_URL", settings.database_url)
    shown = CliRunner().invoke(cli, ["decisions", "show", write.record_key])
    assert shown.exit_code == 0 and superseded_line in shown.output
    assert http.get(f"{relais.url}/admin/api/decisions/{write.record_key}").status_code == 401


def test_a_salesforce_write_retried_after_someone_outside_the_team_took_the_lead_is_superseded(
    sandbox: SandboxServer, relais: Relais, db: Database
) -> None:
    sf = sandbox.salesforce
    manager = sf.add_user("directrice.commerciale@paieco.example", "Anne", "Roux")  # not a rep
    sf.state.faults.append(SfFault(operation=UPDATE, status=503, times=3))
    connect_salesforce(sandbox, relais)
    [lead] = sf.create_records("Lead", [sf_lead(1)])
    wait_for(lambda: _writes(db), what="the decision")
    with sf.lock:
        sf.state.records["Lead"][lead]["OwnerId"] = manager
    [write] = wait_for(lambda: _settled(db), timeout=30, what="the write settled")
    assert write.status == Status.SUPERSEDED
    assert sf.record("Lead", lead)["OwnerId"] == manager
    [note] = _decision(db, write.decision_id).details["superseded"]
    assert "changed after our decision" in note["reason"]
    assert "directrice.commerciale@paieco.example" in note["reason"]
