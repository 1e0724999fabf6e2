"""Issue 10's acceptance through the sandbox (real HTTP, a real database, the embedded worker,
the clock fixed): segment rules with the reason on the record, and a lead held at night that
its pool's first rep gets at the opening."""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import yaml
from sqlalchemy import select, update
from sqlmodel import col

from app.config import Settings
from app.db import Database
from app.decisions.models import Decision
from app.inbox.models import InboxEvent
from app.queue import Status
from connectors.sandbox import SandboxServer
from tests.conftest import Relais, connect_webhooks, copy_mappings, wait_for
from tests.integration.helpers import ready

WORKING = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)  # Wednesday, 10:00 in Paris
NIGHT = datetime(2026, 11, 25, 22, 0, tzinfo=UTC)  # 23:00 in Paris
OPENING = datetime(2026, 11, 26, 8, 1, tzinfo=UTC)  # Thursday, 09:01 in Paris
CLAIRE, INES = "claire.martin@paieco.example", "ines.dubois@paieco.example"
ROUTING = """
pools:
  - {name: construction, type: weighted, members_from_segment: construction}
  - name: everyone
    type: weighted
    members: [claire.martin@paieco.example, hugo.bernard@paieco.example,
              ines.dubois@paieco.example, lucas.moreau@paieco.example]
rules:
  - name: Construction firms
    when:
      - {field: industry, op: eq, value: construction}
    pool: construction
    when_nobody: hold
  - name: default
    pool: everyone
fallback_owner: hugo.bernard@paieco.example
explain: {hubspot: relais_why}
"""
HOURS = {"timezone": "Europe/Paris", "start": "09:00", "end": "18:00"}


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def mappings(tmp_path: Path) -> Path:
    target = copy_mappings(tmp_path / "mappings")
    (target / "routing.yaml").write_text(ROUTING)
    team = yaml.safe_load((target / "team.yaml").read_text())
    for rep in team["reps"]:
        rep["working_hours"] = copy.deepcopy(HOURS)
    (target / "team.yaml").write_text(yaml.safe_dump(team, allow_unicode=True, sort_keys=False))
    return target


def decisions(db: Database, key: str) -> list[Decision]:
    with db.transaction() as session:
        query = select(Decision).where(col(Decision.record_key) == key).order_by(col(Decision.id))
        return list(session.scalars(query))


def owner_email(sandbox: SandboxServer, cid: str) -> str | None:
    with sandbox.hubspot.lock:
        owner = sandbox.hubspot.state.contacts[cid].properties.get("hubspot_owner_id")
        return sandbox.hubspot.state.owners[str(owner)].email if owner else None


def test_given_segment_rules_then_construction_leads_go_to_the_segment_with_why_on_the_record(
    sandbox: SandboxServer,
    settings: Settings,
    relais_factory: Callable[..., Relais],
    tmp_path: Path,
) -> None:
    update_ = {"mappings_dir": mappings(tmp_path)}
    relais = relais_factory(settings.model_copy(update=update_), clock=Clock(WORKING))
    connect_webhooks(sandbox, relais)
    ids = sandbox.hubspot.create_contacts(
        [ready(f"b{i}@beton.fr", industry="CONSTRUCTION") for i in range(5)]
    )

    wait_for(lambda: all(owner_email(sandbox, cid) for cid in ids), what="owners")

    assert {owner_email(sandbox, cid) for cid in ids} == {CLAIRE, INES}  # the segment's reps
    with sandbox.hubspot.lock:
        why = sandbox.hubspot.state.contacts[ids[0]].properties["relais_why"]
    assert why.startswith("Yours because: Construction firms -> pool construction; weighted ")


def test_given_a_lead_at_night_when_its_pool_opens_then_it_is_held_then_assigned(
    sandbox: SandboxServer,
    settings: Settings,
    relais_factory: Callable[..., Relais],
    tmp_path: Path,
    db: Database,
) -> None:
    clock = Clock(NIGHT)
    update_ = {"mappings_dir": mappings(tmp_path)}
    relais = relais_factory(settings.model_copy(update=update_), clock=clock)
    connect_webhooks(sandbox, relais)
    [cid] = sandbox.hubspot.create_contacts([ready("n@beton.fr", industry="CONSTRUCTION")])
    key = f"hubspot:contact:{cid}"

    wait_for(lambda: bool(decisions(db, key)), what="the lead decided")
    [held] = decisions(db, key)
    assert held.outcome == "held" and owner_email(sandbox, cid) is None
    assert "outside hours" in held.rule and "held until 2026-11-26T08:00:00+00:00" in held.rule

    clock.now = OPENING  # the morning: its try is due (the inbox runs on the real time)
    with db.transaction() as session:
        session.execute(
            update(InboxEvent)
            .where(col(InboxEvent.status) == Status.PENDING)
            .values(available_at=datetime.now(UTC))
        )
    relais.runtime.wakeup.set()

    wait_for(lambda: owner_email(sandbox, cid) in {CLAIRE, INES}, what="assigned at opening")
    assert decisions(db, key)[-1].outcome == "assigned"
