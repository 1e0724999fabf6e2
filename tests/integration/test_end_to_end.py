"""The sandbox plays HubSpot: signed webhooks in, owners written back, over real HTTP."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlmodel import col

from app.config import Settings
from app.db import Database
from app.decisions.explain import explain
from app.decisions.models import Assignment, Decision
from app.demo_data import make_leads
from app.inbox.models import InboxEvent
from app.mappings.fields import LeadField
from app.outbox.models import OutboxWrite
from app.queue import Status
from connectors.sandbox import SandboxServer
from connectors.sandbox.hubspot import Fault
from tests.conftest import REPS, Relais, connect_webhooks, wait_for
from tests.integration.helpers import (
    creation_events,
    dumps,
    ready,
    signed_post,
    within_weighted_shares,
)

ACTIVE = [email for email, *_ in REPS if not email.startswith("sarah")]  # Sarah is inactive


def owners_of(sandbox: SandboxServer, ids: list[str]) -> list[str | None]:
    """The HubSpot owner id of each contact (None while unowned)."""
    with sandbox.hubspot.lock:
        return [sandbox.hubspot.state.contacts[i].properties.get("hubspot_owner_id") for i in ids]


def owner_emails(sandbox: SandboxServer) -> dict[str, str]:
    return {o.id: o.email for o in sandbox.hubspot.state.owners.values()}


def all_owned(sandbox: SandboxServer, ids: list[str]) -> bool:
    return all(owners_of(sandbox, ids))


def test_given_a_signed_batch_from_hubspot_then_every_new_contact_is_owned_by_weight(
    sandbox: SandboxServer, relais: Relais, db: Database
) -> None:
    connect_webhooks(sandbox, relais, batch_window_ms=200)
    ids = sandbox.hubspot.create_contacts(make_leads(12))
    wait_for(lambda: all_owned(sandbox, ids), what="12 contacts owned")

    emails = owner_emails(sandbox)
    owners = [emails[str(o)] for o in owners_of(sandbox, ids)]
    assert set(Counter(owners)) == set(ACTIVE)  # the inactive rep gets none
    # by weight (team.yaml: 1.5, 1, 1, 0.5): within one lead of each share at every prefix
    with db.transaction() as session:
        order = [
            str(e)
            for e in session.scalars(select(col(Decision.owner_email)).order_by(col(Decision.id)))
        ]
    assert within_weighted_shares(order, ACTIVE), order
    # the decision says why, with the score and the mappings version; it is marked written once
    # the outbox has settled the CRM's answer (a moment after the sandbox shows the owner)
    wait_for(lambda: _idle(db), what="every write settled")
    with db.transaction() as session:
        decision = session.scalars(select(Decision)).first()
        assert decision is not None
        assert decision.outcome == "assigned" and "weighted rotation" in decision.rule
        assert decision.score is not None and decision.mappings_version
        assert decision.written_at is not None
    # ... kept with the lead it was made on and the explanation as data, shown to the admin
    assert decision.lead is not None and decision.explanation is not None
    assert decision.lead["record"]["key"] == decision.record_key
    assert decision.lead["record"]["fields"]["email"]
    assert decision.explanation["rule"] == "weighted"
    assert decision.explanation["rep"] == decision.owner_email
    assert sorted(decision.explanation["candidates"]) == sorted(ACTIVE)
    assert list(decision.explanation["skipped"].values()) == ["inactive in team.yaml"]
    assert decision.details["sales_ready"] is (decision.score >= 150)  # scoring.yaml threshold
    assert decision.details["temperature"] in ("hot", "warm", "cold", None)
    assert decision.details["grade"] in ("A", "B", "C", "D")  # the shipped model grades fit
    assert all({"rule", "points", "group"} <= set(d) for d in decision.score_details)
    lines = explain(decision)
    assert f"score: {decision.score} (" in "\n".join(lines)
    [candidates] = [line for line in lines if line.startswith("candidates before the pick: ")]
    counts = decision.explanation["counts"]
    assert counts[decision.owner_email] == min(counts.values())  # the fewest, as the rule says
    assert f"{decision.owner_email} ({counts[decision.owner_email]} leads)" in candidates
    assert any(line.endswith(": inactive in team.yaml") for line in lines)
    # one batched read and one batched write served the 12 contacts
    calls = sandbox.hubspot.stats()["calls"]
    assert calls["contacts.batch_read"] <= 2 and calls["contacts.batch_update"] <= 2


def test_given_the_same_batch_delivered_three_times_concurrently_then_one_assignment_each(
    sandbox: SandboxServer, relais: Relais, db: Database
) -> None:
    connect_webhooks(sandbox, relais, duplicates=3, batch_window_ms=100)
    ids = sandbox.hubspot.create_contacts(make_leads(30))
    wait_for(lambda: all_owned(sandbox, ids), what="30 contacts owned")
    assert sandbox.hubspot.webhooks.wait_idle(10)
    wait_for(lambda: _idle(db), what="inbox drained")

    stats = sandbox.hubspot.stats()
    assert stats["deliveries"]["requests"] >= 3  # really delivered three times
    with db.transaction() as session:
        per_record = Counter(session.scalars(select(col(Assignment.record_key))))
        creations = session.scalar(
            select(func.count())
            .select_from(InboxEvent)
            .where(col(InboxEvent.event_type) == "contact.creation")
        )
        writes = session.scalar(select(func.count()).select_from(OutboxWrite))
    assert len(per_record) == 30 and set(per_record.values()) == {1}
    assert creations == 30 and writes == 30
    with sandbox.hubspot.lock:
        assert all(sandbox.hubspot.state.contacts[i].owner_writes == 1 for i in ids)


def test_given_a_contact_that_already_has_an_owner_then_it_keeps_it(
    sandbox: SandboxServer, relais: Relais, db: Database
) -> None:
    connect_webhooks(sandbox, relais)
    rep_owner = next(iter(sandbox.hubspot.state.owners))
    [cid] = sandbox.hubspot.create_contacts([ready("x@y.fr", hubspot_owner_id=rep_owner)])
    wait_for(lambda: _decisions(db), what="a decision")
    [decision] = _decisions(db)
    assert decision.outcome == "kept_owner"
    assert owners_of(sandbox, [cid]) == [rep_owner]
    # one write: the ready outcome's values (qualification.yaml), never the owner
    updates = sandbox.hubspot.state.contacts[cid]
    assert updates.owner_writes == 0


def test_given_429_and_5xx_for_a_while_then_every_event_is_retried_and_lands(
    sandbox: SandboxServer, relais: Relais, db: Database
) -> None:
    hs = sandbox.hubspot
    hs.state.faults.extend(
        [
            Fault(operation="contacts.batch_read", status=429, times=2, retry_after=1),
            Fault(operation="contacts.batch_read", status=429, times=2),  # no Retry-After
            Fault(operation="contacts.batch_read", status=503, times=3),
            Fault(operation="contacts.batch_update", status=500, times=3),
            Fault(operation="contacts.batch_update", status=429, times=1, retry_after=1),
        ]
    )
    connect_webhooks(sandbox, relais)
    ids = hs.create_contacts(make_leads(20))
    wait_for(lambda: all_owned(sandbox, ids), timeout=60, what="owners despite faults")
    assert not hs.state.faults  # every injected fault was really served
    wait_for(lambda: _idle(db), what="inbox drained")
    with db.transaction() as session:
        assert session.scalar(select(func.count()).select_from(Assignment)) == 20


def test_given_an_event_that_keeps_failing_then_dead_lettered_and_replay_lands(
    sandbox: SandboxServer, relais: Relais, db: Database, http: httpx.Client
) -> None:
    hs = sandbox.hubspot
    hs.state.faults.append(Fault(operation="contacts.batch_read", status=500, times=1000))
    [cid] = hs.create_contacts([ready("stuck@acier.fr")])
    secret = relais.settings.hubspot_client_secret
    assert secret is not None
    resp = signed_post(
        http, relais.webhook_url, secret.get_secret_value(), dumps(creation_events([int(cid)]))
    )
    assert resp.status_code == 200

    dead = wait_for(lambda: _events(db, Status.DEAD), timeout=30, what="dead letter")
    assert dead[0].attempts == relais.settings.retry_max_attempts
    assert "HTTP 500" in (dead[0].last_error or "")
    assert owners_of(sandbox, [cid]) == [None]
    probe = http.get(f"{relais.url}/readyz").json()  # the probe says someone must look
    assert probe["status"] == "ready" and probe["dead_letters"]["inbox"] == 1

    hs.state.faults.clear()
    from typer.testing import CliRunner

    from app.cli import cli  # the admin's own command

    result = CliRunner().invoke(
        cli,
        ["dead-letters", "replay", "--inbox", str(dead[0].id)],
        env={"RELAIS_DATABASE_URL": relais.settings.database_url},
    )
    assert result.exit_code == 0, result.output
    assert "replayed 1 inbox event" in result.output
    relais.runtime.wakeup.set()
    wait_for(lambda: all_owned(sandbox, [cid]), what="owner after replay")
    assert _events(db, Status.DEAD) == []


def test_given_an_owner_write_that_keeps_failing_then_dead_lettered_and_replayed(
    sandbox: SandboxServer, relais: Relais, db: Database
) -> None:
    hs = sandbox.hubspot
    hs.state.faults.append(Fault(operation="contacts.batch_update", status=502, times=1000))
    connect_webhooks(sandbox, relais)
    [cid] = hs.create_contacts([ready("w@beton.fr")])
    wait_for(lambda: _dead_writes(db), timeout=30, what="dead write")
    hs.state.faults.clear()
    from typer.testing import CliRunner

    from app.cli import cli

    result = CliRunner().invoke(
        cli,
        ["dead-letters", "replay", "--all"],
        env={"RELAIS_DATABASE_URL": relais.settings.database_url},
    )
    assert "replayed 0 inbox event(s) and 1 outbox write(s)" in result.output
    relais.runtime.wakeup.set()
    wait_for(lambda: all_owned(sandbox, [cid]), what="owner after replay")


def test_given_the_daily_quota_is_spent_then_the_queue_stops_and_nothing_is_lost(
    sandbox: SandboxServer, relais: Relais, db: Database
) -> None:
    hs = sandbox.hubspot
    hs.state.faults.append(
        Fault(operation="contacts.batch_read", status=429, times=1, policy="DAILY")
    )
    connect_webhooks(sandbox, relais)
    ids = hs.create_contacts(make_leads(3))
    wait_for(lambda: _pause(db), what="connector paused")
    events = _events(db, Status.PENDING)
    assert len(events) == 3 and all(e.attempts == 0 for e in events)  # not counted
    reads = hs.stats()["calls"]["contacts.batch_read"]
    # once resumed (quota reset), everything lands
    with db.transaction() as session:
        from app.db import utcnow
        from app.pauses.repository import PauseRepository
        from connectors.crm import Crm

        PauseRepository(session).resume(Crm.HUBSPOT)
        for e in events:
            row = session.get(InboxEvent, e.id)
            assert row is not None
            row.available_at = utcnow()
    relais.runtime.wakeup.set()
    wait_for(lambda: all_owned(sandbox, ids), what="owners after resume")
    assert hs.stats()["calls"]["contacts.batch_read"] > reads


def test_our_own_owner_writes_echo_back_and_are_ignored(
    sandbox: SandboxServer, relais: Relais, db: Database
) -> None:
    connect_webhooks(sandbox, relais)
    ids = sandbox.hubspot.create_contacts(make_leads(5))
    wait_for(lambda: all_owned(sandbox, ids), what="owned")
    assert sandbox.hubspot.webhooks.wait_idle(10)
    wait_for(lambda: _idle(db), what="inbox drained")
    with db.transaction() as session:
        echoes = list(
            session.scalars(
                select(InboxEvent).where(col(InboxEvent.event_type) == "contact.propertyChange")
            )
        )
    assert len(echoes) == 5
    assert all(e.status == Status.IGNORED and "echo" in (e.result or "") for e in echoes)
    assert sandbox.hubspot.stats()["calls"]["contacts.batch_update"] <= 5


def test_a_rep_changing_the_owner_in_hubspot_after_us_is_not_overridden(
    sandbox: SandboxServer, relais: Relais, db: Database
) -> None:
    connect_webhooks(sandbox, relais)
    [cid] = sandbox.hubspot.create_contacts([ready("z@tole.fr")])
    wait_for(lambda: all_owned(sandbox, [cid]), what="owned")
    other = next(o for o in sandbox.hubspot.state.owners if o != owners_of(sandbox, [cid])[0])
    sandbox.hubspot.change_contact(cid, {"hubspot_owner_id": other})
    wait_for(
        lambda: (
            len(_decisions(db)) == 1
            and _idle(db)
            and _events(db, Status.DONE, "contact.propertyChange")
        ),
        what="change processed",
    )
    assert owners_of(sandbox, [cid]) == [other]
    done = _events(db, Status.DONE, "contact.propertyChange")
    assert "already_assigned" in (done[0].result or "")
    assert json.dumps(done[0].payload)  # the raw event is kept for the audit trail


# -- helpers -------------------------------------------------------------------------------


def _events(db: Database, status: str, event_type: str | None = None) -> list[InboxEvent]:
    with db.transaction() as session:
        query = select(InboxEvent).where(col(InboxEvent.status) == status)
        if event_type:
            query = query.where(col(InboxEvent.event_type) == event_type)
        return list(session.scalars(query))


def _decisions(db: Database) -> list[Decision]:
    with db.transaction() as session:
        return list(session.scalars(select(Decision)))


def _dead_writes(db: Database) -> list[OutboxWrite]:
    with db.transaction() as session:
        return list(
            session.scalars(select(OutboxWrite).where(col(OutboxWrite.status) == Status.DEAD))
        )


def _pause(db: Database) -> bool:
    from app.pauses.models import CrmPause

    with db.transaction() as session:
        return session.get(CrmPause, "hubspot") is not None


def _idle(db: Database) -> bool:
    with db.transaction() as session:
        busy = session.scalar(
            select(func.count())
            .select_from(InboxEvent)
            .where(col(InboxEvent.status).in_([Status.PENDING, Status.PROCESSING]))
        )
        writes = session.scalar(
            select(func.count())
            .select_from(OutboxWrite)
            .where(col(OutboxWrite.status).in_([Status.PENDING, Status.PROCESSING]))
        )
    return busy == 0 and writes == 0


def test_a_contact_hubspot_cannot_find_is_retried_then_dead_lettered_not_dropped(
    sandbox: SandboxServer, relais: Relais, db: Database, http: httpx.Client
) -> None:
    ids = sandbox.hubspot.create_contacts(make_leads(2))
    secret = relais.settings.hubspot_client_secret
    assert secret is not None
    ghost = 99_999_999  # a creation event for a contact HubSpot does not (yet) return
    resp = signed_post(
        http,
        relais.webhook_url,
        secret.get_secret_value(),
        dumps(creation_events([int(ids[0]), ghost, int(ids[1])])),
    )
    assert resp.status_code == 200
    wait_for(lambda: all_owned(sandbox, ids), what="the two real contacts owned")
    dead = wait_for(lambda: _events(db, Status.DEAD), timeout=30, what="ghost dead-lettered")
    assert [e.record_key for e in dead] == [f"hubspot:contact:{ghost}"]
    assert dead[0].attempts == relais.settings.retry_max_attempts
    assert "not found in HubSpot" in (dead[0].last_error or "")


def test_a_retried_write_never_overwrites_an_owner_a_person_set_meanwhile(
    sandbox: SandboxServer, relais: Relais, db: Database
) -> None:
    hs = sandbox.hubspot
    hs.state.faults.append(Fault(operation="contacts.batch_update", status=503, times=2))
    connect_webhooks(sandbox, relais)
    [cid] = hs.create_contacts([ready("m@meca.fr")])
    wait_for(lambda: hs.stats()["calls"].get("contacts.batch_update", 0) >= 2, what="a failure")
    with db.transaction() as session:
        decided = session.scalars(select(OutboxWrite)).one().fields["hubspot_owner_id"]
    manager_pick = next(o for o in hs.state.owners if o != decided)
    with hs.lock:  # a manager assigns the lead by hand while our write waits to be retried
        hs.state.contacts[cid].properties["hubspot_owner_id"] = manager_pick
    wait_for(lambda: _idle(db), what="the write settled")
    assert owners_of(sandbox, [cid]) == [manager_pick]
    with db.transaction() as session:
        [write] = session.scalars(select(OutboxWrite)).all()
        decision = session.get(Decision, write.decision_id)
        assert decision is not None
    assert write.status == Status.SUPERSEDED and "a rep of the team" in (write.last_error or "")
    # the decision says so, and it was never marked written
    [note] = decision.details["superseded"]
    assert note["record"] == f"hubspot:contact:{cid}" and "reassigned in hubspot" in note["reason"]
    assert decision.written_at is None


def test_refused_credentials_pause_the_connector_without_spending_attempts(
    sandbox: SandboxServer, relais: Relais, db: Database
) -> None:
    hs = sandbox.hubspot
    hs.state.access_token = "rotated-by-an-admin"  # our token no longer works
    connect_webhooks(sandbox, relais)
    hs.create_contacts(make_leads(2))
    wait_for(lambda: _pause(db), what="connector paused")
    events = _events(db, Status.PENDING)
    assert len(events) == 2 and all(e.attempts == 0 for e in events)
    from app.pauses.models import CrmPause

    with db.transaction() as session:
        pause = session.get(CrmPause, "hubspot")
        assert pause is not None and "RELAIS_HUBSPOT_ACCESS_TOKEN" in pause.reason


def test_one_record_that_breaks_the_pipeline_fails_alone(
    sandbox: SandboxServer, relais: Relais, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    from app.scoring import engine

    real_score = engine.score

    def score_or_crash(lead: engine.Lead, model: Any, *types: Any) -> engine.ScoreResult:
        if lead.get(LeadField.EMAIL) == "crash@bug.fr":
            raise ZeroDivisionError("a scoring bug on an odd value")
        return real_score(lead, model, *types)

    monkeypatch.setattr(engine, "score", score_or_crash)  # fault injection on one record
    connect_webhooks(sandbox, relais, batch_window_ms=200)
    ids = sandbox.hubspot.create_contacts([*make_leads(3), ready("crash@bug.fr")])
    wait_for(lambda: all_owned(sandbox, ids[:3]), what="the three healthy contacts owned")
    dead = wait_for(lambda: _events(db, Status.DEAD), timeout=30, what="the broken one dead")
    assert [e.record_key for e in dead] == [f"hubspot:contact:{ids[3]}"]
    assert "ZeroDivisionError" in (dead[0].last_error or "")


def test_hubspot_only_a_contact_kept_by_an_inactive_rep_does_not_sink_its_batch(
    sandbox: SandboxServer, relais_factory: Callable[..., Relais], settings: Settings, db: Database
) -> None:
    relais = relais_factory(
        settings.model_copy(update={"salesforce_client_id": None, "salesforce_org_id": None})
    )  # HubSpot only
    sarah = next(o.id for o in sandbox.hubspot.state.owners.values() if o.email.startswith("sarah"))
    connect_webhooks(sandbox, relais, batch_window_ms=200)
    kept, other = sandbox.hubspot.create_contacts(
        [ready("k@x.fr", hubspot_owner_id=sarah), ready("o@x.fr")]
    )
    wait_for(
        lambda: all_owned(sandbox, [kept, other]) and len(_decisions(db)) == 2, what="both decided"
    )
    outcomes = sorted(d.outcome for d in _decisions(db))
    assert outcomes == ["assigned", "kept_owner"]
    assert owners_of(sandbox, [kept]) == [sarah]
    assert _events(db, Status.DEAD) == []
