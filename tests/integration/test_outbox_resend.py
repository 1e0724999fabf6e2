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
from app.decisions.models import Assignment, Decision
from app.outbox.models import OutboxWrite
from app.queue import Status
from connectors.sandbox import SandboxServer
from connectors.sandbox.hubspot import Fault
from connectors.sandbox.salesforce import SfFault
from tests.conftest import REPS, Relais, connect_salesforce, connect_webhooks, wait_for
from tests.integration.helpers import ready
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
    with db.transaction() as session:  # the ledger follows the person's choice
        ledger = session.get(Assignment, write.record_key)
        assert ledger is not None and ledger.owner_email == sf_user_email(sandbox, other)
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


def _linked_person(sandbox: SandboxServer, relais: Relais, db: Database) -> tuple[str, str]:
    """A person in both CRMs (a Salesforce Lead and a HubSpot contact with its email), owned by
    one rep on both sides; returns (lead id, contact id)."""
    [lead] = sandbox.salesforce.create_records("Lead", [sf_lead(7)])
    connect_webhooks(sandbox, relais)
    connect_salesforce(sandbox, relais)
    [contact] = sandbox.hubspot.create_contacts([ready("lead7@betonsud.fr")])
    keys = [f"hubspot:contact:{contact}", f"salesforce:Lead:{lead}"]

    def both_written() -> bool:
        with db.transaction() as session:
            decisions = list(session.scalars(select(Decision)))
        return (
            len(decisions) == 1
            and decisions[0].written_at is not None
            and sorted(decisions[0].details["writes"]) == sorted(keys)
        )

    wait_for(both_written, what="one decision written to both CRMs")
    return lead, contact


def test_one_decision_written_to_both_crms_is_marked_written_once_both_confirmed(
    sandbox: SandboxServer, relais: Relais, db: Database
) -> None:
    # the two writes settle in two transactions at once (one per CRM): the decision must
    # still end written, on PostgreSQL as on SQLite
    lead, contact = _linked_person(sandbox, relais, db)
    [decision] = _decisions_all(db)
    assert {w.status for w in _writes(db)} == {Status.DONE}
    hs_owner = sandbox.hubspot.state.contacts[contact].properties["hubspot_owner_id"]
    assert sandbox.hubspot.state.owners[str(hs_owner)].email == decision.owner_email
    assert sf_user_email(sandbox, sf_owner(sandbox, lead)) == decision.owner_email


def test_an_owner_change_copied_to_the_other_crm_is_sent_when_its_write_is_retried(
    sandbox: SandboxServer, relais: Relais, db: Database
) -> None:
    lead, contact = _linked_person(sandbox, relais, db)
    [first] = _decisions_all(db)
    sf = sandbox.salesforce
    other = next(e for e in sorted(TEAM) if e != first.owner_email and not e.startswith("sarah"))
    other_sf = next(u for u, r in sf.state.records["User"].items() if r["Email"] == other)
    # HubSpot fails longer than the connector's own tries: the copy must be retried, not
    # taken for a person's change because HubSpot still shows the previous rep
    with sandbox.hubspot.lock:
        sandbox.hubspot.state.faults.append(
            Fault(operation="contacts.batch_update", status=503, times=3)
        )
    sf.change_record("Lead", lead, {"OwnerId": other_sf})  # a manager, in the source of truth
    synced = wait_for(
        lambda: next((d for d in _decisions_all(db) if d.outcome == "owner_synced"), None),
        what="the owner change decided",
    )
    wait_for(lambda: _decision(db, synced.id).written_at is not None, what="the copy written")
    hs_owner = sandbox.hubspot.state.contacts[contact].properties["hubspot_owner_id"]
    assert sandbox.hubspot.state.owners[str(hs_owner)].email == other
    assert "superseded" not in _decision(db, synced.id).details


def _decisions_all(db: Database) -> list[Decision]:
    with db.transaction() as session:
        return list(session.scalars(select(Decision).order_by(Decision.id)))  # type: ignore[arg-type]


def sf_owner(sandbox: SandboxServer, lead: str) -> str:
    return str(sandbox.salesforce.record("Lead", lead)["OwnerId"])
