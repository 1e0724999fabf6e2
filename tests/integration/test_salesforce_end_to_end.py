"""Salesforce both ways, through the sandbox over real HTTP(S): leads in, owners out, one rep
for one person across both CRMs."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select
from sqlmodel import col

from app.config import Settings
from app.db import Database
from app.decisions.models import Assignment, Decision
from app.inbox.models import InboxEvent
from app.links.models import CrmLink
from app.outbox.models import OutboxWrite
from app.queue import Status
from connectors.sandbox import SandboxServer
from connectors.sandbox.salesforce import ValidationRule
from tests.conftest import REPS, Relais, connect_salesforce, connect_webhooks, wait_for
from tests.integration.helpers import ready, within_weighted_shares

ACTIVE = [email for email, *_ in REPS if not email.startswith("sarah")]


def sf_user_email(sandbox: SandboxServer, user_id: str | None) -> str | None:
    user = sandbox.salesforce.state.records["User"].get(user_id or "")
    return str(user["Email"]) if user else None


def hs_owner_email(sandbox: SandboxServer, owner_id: str | None) -> str | None:
    owner = sandbox.hubspot.state.owners.get(owner_id or "")
    return owner.email if owner else None


def sf_lead(i: int, **extra: str) -> dict[str, str]:
    return {
        "Email": f"lead{i}@betonsud.fr",
        "LastName": f"Durand{i}",
        "FirstName": "Léa",
        "Company": "BétonSud SAS",
        "Title": "Responsable RH",
        "NumberOfEmployees": "90",
        "Industry": "Construction",
        "Country": "France",  # an HR manager at a French construction firm: sales-ready
        **extra,
    }


def owned_by_team(sandbox: SandboxServer, ids: list[str]) -> bool:
    return all(
        sf_user_email(sandbox, sandbox.salesforce.record("Lead", i)["OwnerId"]) in ACTIVE
        for i in ids
    )


@pytest.mark.parametrize("mode", ["outbound_message", "flow"])
def test_leads_created_in_salesforce_get_their_owner_in_salesforce(
    sandbox: SandboxServer, relais: Relais, db: Database, mode: str
) -> None:
    connect_salesforce(sandbox, relais, mode=mode, batch_window_ms=100)
    ids = sandbox.salesforce.create_records("Lead", [sf_lead(i) for i in range(8)])
    wait_for(lambda: owned_by_team(sandbox, ids), what="owners in Salesforce")
    owners = [
        str(sf_user_email(sandbox, sandbox.salesforce.record("Lead", i)["OwnerId"])) for i in ids
    ]
    assert set(owners) == set(ACTIVE)  # by weight, the inactive rep excluded
    st = sandbox.salesforce.state
    assert st.auto_assign_headers.get("FALSE", 0) >= 1 and "TRUE" not in st.auto_assign_headers
    with db.transaction() as session:
        decisions = list(session.scalars(select(Decision).order_by(col(Decision.id))))
    assert within_weighted_shares([str(d.owner_email) for d in decisions], ACTIVE)
    assert {d.outcome for d in decisions} == {"assigned"} and len(decisions) == 8
    assert all(d.record_key.startswith("salesforce:Lead:") for d in decisions)


def test_a_hubspot_contact_and_its_salesforce_lead_get_the_same_rep_on_both_sides(
    sandbox: SandboxServer, relais: Relais, db: Database
) -> None:
    [lead_id] = sandbox.salesforce.create_records("Lead", [sf_lead(1)])  # before webhooks
    connect_webhooks(sandbox, relais)
    connect_salesforce(sandbox, relais)
    [cid] = sandbox.hubspot.create_contacts([ready("LEAD1@betonsud.fr")])

    def both_owned() -> bool:
        return bool(
            sandbox.hubspot.state.contacts[cid].properties.get("hubspot_owner_id")
            and sf_user_email(sandbox, sandbox.salesforce.record("Lead", lead_id)["OwnerId"])
            in ACTIVE
        )

    wait_for(both_owned, what="the same person owned in both CRMs")
    hs_rep = hs_owner_email(
        sandbox, sandbox.hubspot.state.contacts[cid].properties["hubspot_owner_id"]
    )
    sf_rep = sf_user_email(sandbox, sandbox.salesforce.record("Lead", lead_id)["OwnerId"])
    assert hs_rep == sf_rep
    with db.transaction() as session:
        [link] = session.scalars(select(CrmLink)).all()
        ledger = {a.record_key: a.owner_email for a in session.scalars(select(Assignment))}
    assert link.hubspot_key == f"hubspot:contact:{cid}" and link.method == "email"
    assert set(ledger.values()) == {hs_rep}
    assert set(ledger) == {f"hubspot:contact:{cid}", f"salesforce:Lead:{lead_id}"}


def test_a_salesforce_lead_created_after_its_hubspot_contact_gets_the_same_rep(
    sandbox: SandboxServer, relais: Relais, db: Database
) -> None:
    connect_webhooks(sandbox, relais)
    connect_salesforce(sandbox, relais)
    [cid] = sandbox.hubspot.create_contacts([ready("late@acier.fr")])
    wait_for(
        lambda: sandbox.hubspot.state.contacts[cid].properties.get("hubspot_owner_id"),
        what="contact owned",
    )
    hs_rep = hs_owner_email(
        sandbox, sandbox.hubspot.state.contacts[cid].properties["hubspot_owner_id"]
    )
    [lead_id] = sandbox.salesforce.create_records("Lead", [sf_lead(2, Email="late@acier.fr")])
    wait_for(
        lambda: (
            sf_user_email(sandbox, sandbox.salesforce.record("Lead", lead_id)["OwnerId"]) == hs_rep
        ),
        what="the lead given to the contact's rep",
    )
    with db.transaction() as session:
        outcomes = [d.outcome for d in session.scalars(select(Decision).order_by(Decision.id))]  # type: ignore[arg-type]
    assert outcomes == ["assigned", "linked"]


def test_several_salesforce_leads_with_one_email_link_deterministically_and_are_reported(
    sandbox: SandboxServer, relais: Relais, db: Database
) -> None:
    older, newer = sandbox.salesforce.create_records(
        "Lead", [sf_lead(3, Email="dup@tole.fr"), sf_lead(4, Email="dup@tole.fr")]
    )
    connect_webhooks(sandbox, relais)
    sandbox.hubspot.create_contacts([ready("dup@tole.fr")])
    wait_for(lambda: _decisions(db), what="a decision")
    with db.transaction() as session:
        [link] = session.scalars(select(CrmLink)).all()
    assert link.salesforce_key == f"salesforce:Lead:{older}"
    assert link.note is not None and newer in link.note and "2 Salesforce records" in link.note


def test_a_rep_reassigning_in_salesforce_is_copied_to_hubspot_but_not_the_reverse(
    sandbox: SandboxServer, relais: Relais, db: Database
) -> None:
    [lead_id] = sandbox.salesforce.create_records("Lead", [sf_lead(5)])
    connect_webhooks(sandbox, relais)
    connect_salesforce(sandbox, relais)
    [cid] = sandbox.hubspot.create_contacts([ready("lead5@betonsud.fr")])
    wait_for(lambda: len(_assignments(db)) == 2, what="both sides assigned")
    rep = _assignments(db)[f"hubspot:contact:{cid}"]
    wait_for(
        lambda: (
            sf_user_email(sandbox, sandbox.salesforce.record("Lead", lead_id)["OwnerId"]) == rep
        ),
        what="our owner written in Salesforce",
    )
    other = next(e for e in ACTIVE if e != rep)
    other_sf = next(
        u for u, r in sandbox.salesforce.state.records["User"].items() if r["Email"] == other
    )
    sandbox.salesforce.change_record("Lead", lead_id, {"OwnerId": other_sf})  # a manager
    wait_for(
        lambda: (
            hs_owner_email(
                sandbox, sandbox.hubspot.state.contacts[cid].properties.get("hubspot_owner_id")
            )
            == other
        ),
        what="the new owner copied to HubSpot",
    )
    assert set(_assignments(db).values()) == {other}

    third = next(e for e in ACTIVE if e not in (rep, other))
    third_hs = next(o.id for o in sandbox.hubspot.state.owners.values() if o.email == third)
    sandbox.hubspot.change_contact(cid, {"hubspot_owner_id": third_hs})  # HubSpot is not truth
    wait_for(
        lambda: any("not copied" in (e.result or "") for e in _events(db)),
        what="the HubSpot change recorded, not copied",
    )
    assert sf_user_email(sandbox, sandbox.salesforce.record("Lead", lead_id)["OwnerId"]) == other


def test_a_validation_rule_failure_ends_in_a_dead_letter_naming_the_field_and_the_rule(
    sandbox: SandboxServer, relais: Relais, db: Database
) -> None:
    sandbox.salesforce.state.validation_rules.append(
        ValidationRule(
            # on a field Relais does not write (a ready lead's Status is written with its owner)
            field="LeadSource",
            equals="Partner",
            name="Partner_Leads_Are_Locked",
            message="A partner's lead cannot change owner",
        )
    )
    connect_salesforce(sandbox, relais)
    [lead_id] = sandbox.salesforce.create_records("Lead", [sf_lead(6, LeadSource="Partner")])
    dead = wait_for(lambda: _dead_writes(db), timeout=30, what="dead-lettered write")
    assert dead[0].record_key == f"salesforce:Lead:{lead_id}"
    error = dead[0].last_error or ""
    assert "FIELD_CUSTOM_VALIDATION_EXCEPTION" in error
    assert "LeadSource" in error and "Partner_Leads_Are_Locked" in error
    assert dead[0].attempts == 1  # retrying cannot help: dead at once, for an admin to fix


def test_a_rep_unknown_in_salesforce_gets_no_salesforce_leads_and_is_logged(
    sandbox: SandboxServer, relais: Relais, db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    users = sandbox.salesforce.state.records["User"]
    hugo = next(u for u, r in users.items() if r["Email"].startswith("hugo"))
    users[hugo]["IsActive"] = False  # Hugo left Salesforce but is still in team.yaml
    connect_salesforce(sandbox, relais)
    ids = sandbox.salesforce.create_records("Lead", [sf_lead(10 + i) for i in range(6)])
    wait_for(
        lambda: (
            all(
                sf_user_email(sandbox, sandbox.salesforce.record("Lead", i)["OwnerId"])
                not in (None, "hugo.bernard@paieco.example")
                and sandbox.salesforce.record("Lead", i)["OwnerId"] != hugo
                for i in ids
            )
            and len(_decisions(db)) == 6
        ),
        what="leads owned by the others",
    )
    owners = {sf_user_email(sandbox, sandbox.salesforce.record("Lead", i)["OwnerId"]) for i in ids}
    assert "hugo.bernard@paieco.example" not in owners


def _decisions(db: Database) -> list[Decision]:
    with db.transaction() as session:
        return list(session.scalars(select(Decision)))


def _assignments(db: Database) -> dict[str, str]:
    with db.transaction() as session:
        return {a.record_key: a.owner_email for a in session.scalars(select(Assignment))}


def _events(db: Database) -> list[InboxEvent]:
    with db.transaction() as session:
        return list(session.scalars(select(InboxEvent)))


def _dead_writes(db: Database) -> list[OutboxWrite]:
    with db.transaction() as session:
        return list(session.scalars(select(OutboxWrite).where(OutboxWrite.status == Status.DEAD)))  # type: ignore[arg-type]


def test_a_contact_linked_by_the_id_the_native_connector_stored_wins_over_email(
    sandbox: SandboxServer, relais: Relais, db: Database
) -> None:
    [by_email] = sandbox.salesforce.create_records("Lead", [sf_lead(20, Email="s@metal.fr")])
    [stored] = sandbox.salesforce.create_records("Lead", [sf_lead(21, Email="old@metal.fr")])
    connect_webhooks(sandbox, relais)
    sandbox.hubspot.create_contacts([ready("s@metal.fr", salesforceleadid=stored)])
    wait_for(lambda: _decisions(db), what="a decision")
    with db.transaction() as session:
        [link] = session.scalars(select(CrmLink)).all()
    assert link.salesforce_key == f"salesforce:Lead:{stored}" and link.method == "stored_id"
    assert by_email not in link.salesforce_key


def test_a_salesforce_lead_whose_person_is_already_in_hubspot_gets_one_rep_in_both(
    sandbox: SandboxServer, relais: Relais, db: Database
) -> None:
    [cid] = sandbox.hubspot.create_contacts([ready("both@bois.fr")])  # before any webhook
    connect_salesforce(sandbox, relais)
    [lead_id] = sandbox.salesforce.create_records("Lead", [sf_lead(22, Email="both@bois.fr")])
    wait_for(
        lambda: sandbox.hubspot.state.contacts[cid].properties.get("hubspot_owner_id"),
        what="the HubSpot contact owned too",
    )
    hs_rep = hs_owner_email(
        sandbox, sandbox.hubspot.state.contacts[cid].properties["hubspot_owner_id"]
    )
    wait_for(
        lambda: (
            sf_user_email(sandbox, sandbox.salesforce.record("Lead", lead_id)["OwnerId"]) == hs_rep
        ),
        what="the same rep in Salesforce",
    )
    [decision] = _decisions(db)
    assert decision.record_key == f"salesforce:Lead:{lead_id}"
    assert decision.details["records"] == [f"salesforce:Lead:{lead_id}", f"hubspot:contact:{cid}"]


def test_when_no_rep_can_take_a_lead_the_fallback_owner_gets_it_and_it_is_said(
    sandbox: SandboxServer,
    relais_factory: Callable[..., Relais],
    settings: Settings,
    db: Database,
    tmp_path: Path,
) -> None:
    (tmp_path / "team.yaml").write_text(
        "reps:\n  - {email: rep.a@paieco.example, name: Rep A}\n"
        "  - {email: rep.b@paieco.example, name: Rep B}\n"
        "  - {email: lead.manager@paieco.example, name: Lead Manager}\n"
    )
    (tmp_path / "routing.yaml").write_text(
        "pools:\n  - name: p\n    type: round_robin\n"
        "    members: [rep.a@paieco.example, rep.b@paieco.example]\n"
        "default_pool: p\nfallback_owner: lead.manager@paieco.example\n"
    )
    (tmp_path / "scoring.yaml").write_text("threshold: 10\nrules: []\n")
    manager_sf = sandbox.salesforce.add_user("lead.manager@paieco.example", "Lead", "Manager")
    sandbox.hubspot.add_owner("lead.manager@paieco.example")
    sandbox.hubspot.add_owner("rep.a@paieco.example")  # in HubSpot, but not in Salesforce
    relais = relais_factory(settings.model_copy(update={"mappings_dir": tmp_path}))
    connect_salesforce(sandbox, relais)
    [lead_id] = sandbox.salesforce.create_records("Lead", [sf_lead(23)])
    wait_for(
        lambda: sandbox.salesforce.record("Lead", lead_id)["OwnerId"] == manager_sf,
        what="the fallback owner",
    )
    [decision] = _decisions(db)
    assert decision.outcome == "fallback" and "fallback owner" in decision.rule


def test_our_own_salesforce_writes_echoing_back_cause_no_loop(
    sandbox: SandboxServer, relais: Relais, db: Database
) -> None:
    [lead_id] = sandbox.salesforce.create_records("Lead", [sf_lead(30)])
    connect_webhooks(sandbox, relais)
    connect_salesforce(sandbox, relais, notify_api_updates=True)  # integration user not excluded
    [cid] = sandbox.hubspot.create_contacts([ready("lead30@betonsud.fr")])
    wait_for(lambda: len(_assignments(db)) == 2, what="both sides assigned")
    wait_for(lambda: sandbox.salesforce.state.owner_writes.get(lead_id), what="written")
    # our write's echo: an Outbound Message about the lead (the integration user not excluded)
    wait_for(lambda: any(e.crm == "salesforce" for e in _events(db)), what="the echo received")
    assert sandbox.salesforce.notifications.wait_idle(10)
    assert sandbox.hubspot.webhooks.wait_idle(10)
    wait_for(
        lambda: all(e.status in (Status.DONE, Status.IGNORED) for e in _events(db)),
        what="the echo processed",
    )
    with db.transaction() as session:  # the echo decided nothing and queued no write
        writes = list(session.scalars(select(OutboxWrite)))
    assert sorted(w.crm for w in writes) == ["hubspot", "salesforce"]
    assert [d.outcome for d in _decisions(db)] == ["assigned"]
    assert sandbox.hubspot.state.contacts[cid].properties["hubspot_owner_id"]


def test_a_stale_outbound_message_is_not_taken_for_an_owner_change(
    sandbox: SandboxServer, relais: Relais, db: Database, http: httpx.Client
) -> None:
    [lead_id] = sandbox.salesforce.create_records("Lead", [sf_lead(31)])
    connect_webhooks(sandbox, relais)
    [cid] = sandbox.hubspot.create_contacts([ready("lead31@betonsud.fr")])
    wait_for(lambda: len(_assignments(db)) == 2, what="both sides assigned")
    rep = _assignments(db)[f"hubspot:contact:{cid}"]
    wait_for(
        lambda: (
            sf_user_email(sandbox, sandbox.salesforce.record("Lead", lead_id)["OwnerId"]) == rep
        ),
        what="our owner in Salesforce",
    )
    # An old notification, from before our write, arrives late with the previous owner.
    stale = dict(sandbox.salesforce.record("Lead", lead_id))
    other = next(
        u
        for u, r in sandbox.salesforce.state.records["User"].items()
        if r["Email"] in ACTIVE and r["Email"] != rep
    )
    stale["OwnerId"] = other
    body = sandbox.salesforce.outbound_message(
        [
            {
                "object": "Lead",
                "record": stale,
                "change": "updated",
                "id": "04l5e00000Stale1AAA",
                "at": 0,
            }
        ],
        ["Id", "Email", "OwnerId"],
    )
    resp = http.post(f"{relais.url}/webhooks/salesforce/outbound-message", content=body)
    assert resp.status_code == 200
    wait_for(
        lambda: any(e.crm == "salesforce" and e.status == Status.DONE for e in _events(db)),
        what="the stale message processed",
    )
    assert (
        hs_owner_email(sandbox, sandbox.hubspot.state.contacts[cid].properties["hubspot_owner_id"])
        == rep
    )
    assert set(_assignments(db).values()) == {rep}


def test_an_unowned_contact_linked_to_a_lead_a_rep_owns_gets_that_rep(
    sandbox: SandboxServer, relais: Relais, db: Database
) -> None:
    ines = next(
        u
        for u, r in sandbox.salesforce.state.records["User"].items()
        if r["Email"].startswith("ines")
    )
    sandbox.salesforce.create_records("Lead", [sf_lead(32, OwnerId=ines)])
    connect_webhooks(sandbox, relais)
    [cid] = sandbox.hubspot.create_contacts([ready("lead32@betonsud.fr")])
    wait_for(
        lambda: sandbox.hubspot.state.contacts[cid].properties.get("hubspot_owner_id"), what="owned"
    )
    assert (
        hs_owner_email(sandbox, sandbox.hubspot.state.contacts[cid].properties["hubspot_owner_id"])
        == "ines.dubois@paieco.example"
    )
    [decision] = _decisions(db)
    assert decision.outcome == "kept_owner" and "linked salesforce record" in decision.rule
