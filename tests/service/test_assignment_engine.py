"""The assignment engine on the fakes: routing rules, weighted pools from segments, caps,
working hours, pauses, fallback and hold, with the clock fixed."""

from __future__ import annotations

import copy
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from app.reps.models import RepPause
from app.reps.service import resume
from app.routing.schemas import Outcome
from app.routing.targets import pools_with
from app.simulate.schemas import SimulationRequest
from app.simulate.service import run
from tests.service.helpers import Service, hubspot_key

# Wednesday 25 November 2026, 10:00 in Paris: the team is at work.
WORKING = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
NIGHT = datetime(2026, 11, 25, 22, 0, tzinfo=UTC)  # 23:00 in Paris
CLAIRE, HUGO, INES, LUCAS = (
    "claire.martin@paieco.example",
    "hugo.bernard@paieco.example",
    "ines.dubois@paieco.example",
    "lucas.moreau@paieco.example",
)
READY = {"jobtitle": "DRH", "numberofemployees": "120", "country": "France"}
ROUTING = """
pools:
  - name: construction
    type: weighted
    members_from_segment: construction
  - name: everyone
    type: weighted
    members: [claire.martin@paieco.example, hugo.bernard@paieco.example,
              ines.dubois@paieco.example, lucas.moreau@paieco.example]
rules:
  - name: Construction firms
    when:
      - {field: industry, op: eq, value: construction}
    pool: construction
    when_nobody: WHEN_NOBODY
  - name: default
    pool: everyone
fallback_owner: hugo.bernard@paieco.example
"""


class Clock:
    """The instant the pipeline decides at, moved by the test."""

    def __init__(self) -> None:
        self.now = WORKING

    def __call__(self) -> datetime:
        return self.now


def at(service: Service, instant: datetime) -> None:
    clock = service.runtime.clock
    if not isinstance(clock, Clock):
        clock = service.runtime.clock = Clock()  # before the worker is built: it keeps it
    clock.now = instant


def calendar(mappings_dir: Path, **reps: Any) -> None:
    """Give reps of team.yaml working hours, absences or caps (the copy has none)."""
    team = mappings_dir / "team.yaml"
    data = yaml.safe_load(team.read_text())
    for rep in data["reps"]:
        rep.update(copy.deepcopy(reps.get(rep["email"].split(".")[0], {})))
    team.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False))


@pytest.fixture
def routed(mappings_dir: Path) -> Path:
    (mappings_dir / "routing.yaml").write_text(ROUTING.replace("WHEN_NOBODY", "fallback"))
    return mappings_dir


def owners(service: Service, ids: list[str]) -> Counter[str]:
    return Counter(service.assignments()[hubspot_key(cid)] for cid in ids)


def test_given_segment_rules_then_construction_leads_go_to_its_pool_by_weight(
    service: Service, routed: Path
) -> None:
    at(service, WORKING)
    ids = service.hubspot.create_contacts(
        [{"email": f"b{i}@beton.fr", "industry": "CONSTRUCTION", **READY} for i in range(10)]
    )
    others = service.hubspot.create_contacts(
        [{"email": f"m{i}@acier.fr", "industry": "MANUFACTURING", **READY} for i in range(4)]
    )

    service.deliver_and_run()

    # construction: Claire (weight 1.5) and Inès (1.0), the reps whose segments include it
    assert owners(service, ids) == Counter({CLAIRE: 6, INES: 4})
    assert set(owners(service, others)) <= {CLAIRE, HUGO, INES, LUCAS}
    decision = service.decisions(hubspot_key(ids[0]))[0]
    assert decision.rule.startswith("rule 'Construction firms': weighted rotation in pool ")
    assert decision.explanation is not None
    assert decision.explanation["routing_rule"]["name"] == "Construction firms"
    assert decision.routing_rule == "Construction firms"  # searchable (?rule=)
    why = service.decisions(hubspot_key(others[0]))[0].explanation or {}
    [skipped] = why["routing_rule"]["not_matched"]
    assert skipped["rule"] == "Construction firms" and skipped["seen"] == "manufacturing"


def test_given_a_daily_cap_then_the_rep_gets_no_more_that_day_and_the_others_take_over(
    service: Service, routed: Path
) -> None:
    calendar(service.runtime.settings.mappings_dir, claire={"capacity": {"per_day": 2}})
    at(service, WORKING)
    ids = service.hubspot.create_contacts(
        [{"email": f"b{i}@beton.fr", "industry": "CONSTRUCTION", **READY} for i in range(6)]
    )

    service.deliver_and_run()

    assert owners(service, ids) == Counter({CLAIRE: 2, INES: 4})
    skipped = [(d.explanation or {}).get("skipped") for d in service.decisions()]
    assert skipped.count({CLAIRE: "capped day"}) == 3  # every lead after her second


def test_given_a_paused_rep_then_it_is_skipped_from_the_next_lead(
    service: Service, routed: Path
) -> None:
    at(service, WORKING)
    with service.db.transaction() as session:
        session.add(RepPause(email=CLAIRE, since=WORKING, reason="customer visit"))
    ids = service.hubspot.create_contacts(
        [{"email": f"b{i}@beton.fr", "industry": "CONSTRUCTION", **READY} for i in range(3)]
    )

    service.deliver_and_run()

    assert owners(service, ids) == Counter({INES: 3})


def test_given_everyone_outside_hours_and_fallback_then_the_fallback_owner_gets_it(
    service: Service, routed: Path
) -> None:
    hours = {"working_hours": {"timezone": "Europe/Paris", "start": "09:00", "end": "18:00"}}
    calendar(service.runtime.settings.mappings_dir, claire=hours, ines=hours)
    at(service, NIGHT)
    service.hubspot.create_contacts([{"email": "b@beton.fr", "industry": "CONSTRUCTION", **READY}])

    service.deliver_and_run()

    [decision] = service.decisions()
    assert (decision.outcome, decision.owner_email) == (Outcome.FALLBACK, HUGO)
    assert "outside hours" in decision.rule


def test_given_everyone_outside_hours_and_hold_then_it_waits_and_is_assigned_at_opening(
    service: Service, mappings_dir: Path
) -> None:
    (mappings_dir / "routing.yaml").write_text(ROUTING.replace("WHEN_NOBODY", "hold"))
    hours = {"working_hours": {"timezone": "Europe/Paris", "start": "09:00", "end": "18:00"}}
    calendar(mappings_dir, claire=hours, ines=hours)
    at(service, NIGHT)
    [cid] = service.hubspot.create_contacts(
        [{"email": "b@beton.fr", "industry": "CONSTRUCTION", **READY}]
    )

    service.deliver_and_run()

    [held] = service.decisions()
    assert held.outcome == Outcome.HELD and held.owner_email is None
    assert service.hubspot.owner_of(cid) is None
    opening = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)  # Thursday 09:00 in Paris
    assert held.explanation is not None
    assert held.explanation["held_until"] == opening.isoformat()
    [retry] = [e for e in service.events() if e.event_type == "relais.hold"]
    # due when the clock reaches the opening: as long after its creation as opening is
    # after the decision's clock (the inbox runs on the real time)
    assert retry.available_at - retry.received_at == opening - NIGHT

    at(service, opening + timedelta(minutes=1))
    service.time_passes()  # the held lead's next try is due
    service.run()

    assert service.decisions()[-1].outcome == Outcome.ASSIGNED
    assert service.assignments()[hubspot_key(cid)] in {CLAIRE, INES}
    assert service.hubspot.owner_of(cid) is not None


def test_given_a_lead_held_because_everyone_is_paused_when_a_rep_resumes_then_it_is_assigned(
    service: Service, mappings_dir: Path
) -> None:
    (mappings_dir / "routing.yaml").write_text(ROUTING.replace("WHEN_NOBODY", "hold"))
    at(service, WORKING)
    with service.db.transaction() as session:
        session.add_all([RepPause(email=e, since=WORKING) for e in (CLAIRE, INES)])
    [cid] = service.hubspot.create_contacts(
        [{"email": "b@beton.fr", "industry": "CONSTRUCTION", **READY}]
    )
    service.deliver_and_run()
    [held] = service.decisions()
    assert held.outcome == Outcome.HELD and held.explanation is not None
    assert held.explanation["held_until"] is None  # only a person can end a pause
    assert "held until a rep is resumed or the mappings change" in held.rule

    with service.db.transaction() as session:
        team = service.runtime.mappings.current.team
        assert resume(session, team, INES).resumed
    service.run()

    assert service.assignments()[hubspot_key(cid)] == INES
    assert service.hubspot.owner_of(cid) is not None


def test_given_the_fallback_outside_hours_too_then_the_lead_is_held_for_whoever_comes_first(
    service: Service, routed: Path
) -> None:
    hours = {"working_hours": {"timezone": "Europe/Paris", "start": "09:00", "end": "18:00"}}
    calendar(service.runtime.settings.mappings_dir, claire=hours, ines=hours, hugo=hours)
    at(service, NIGHT)
    service.hubspot.create_contacts([{"email": "b@beton.fr", "industry": "CONSTRUCTION", **READY}])

    service.deliver_and_run()

    [decision] = service.decisions()
    assert (decision.outcome, decision.owner_email) == (Outcome.HELD, None)
    assert f"nor can the fallback {HUGO} (outside hours)" in decision.rule
    assert decision.pool == "construction"


def test_given_a_rule_naming_a_rep_then_that_rep_gets_the_lead_and_the_reason_says_so(
    service: Service, mappings_dir: Path
) -> None:
    named = ROUTING.replace("WHEN_NOBODY", "fallback").replace(
        "  - name: default\n",
        "  - name: Hot leads to Lucas\n    when:\n      - {field: score, op: gte, value: 150}\n"
        "    rep: lucas.moreau@paieco.example\n  - name: default\n",
    )
    (mappings_dir / "routing.yaml").write_text(named)
    at(service, WORKING)
    [cid] = service.hubspot.create_contacts(
        [{"email": "m@acier.fr", "industry": "MANUFACTURING", **READY}]
    )

    service.deliver_and_run()

    [decision] = service.decisions()
    assert decision.owner_email == LUCAS == service.assignments()[hubspot_key(cid)]
    assert decision.rule == f"rule 'Hot leads to Lucas' names {LUCAS}"


def test_given_the_state_when_a_lead_is_simulated_then_the_live_path_makes_that_decision(
    service: Service, routed: Path
) -> None:
    at(service, WORKING)
    service.hubspot.create_contacts(
        [{"email": f"b{i}@beton.fr", "industry": "CONSTRUCTION", **READY} for i in range(3)]
    )
    service.deliver_and_run()  # the construction pool has a state now
    fields: dict[str, str | None] = {"email": "new@beton.fr", "title": "DRH"}
    fields["company_size"] = "120"
    fields |= {"industry": "construction", "country": "France"}
    before = len(service.decisions())

    simulated = run(service.runtime, SimulationRequest(lead=fields, at=WORKING)).routing

    assert simulated is not None and len(service.decisions()) == before  # nothing written
    [cid] = service.hubspot.create_contacts(
        [{"email": "new@beton.fr", "industry": "CONSTRUCTION", **READY}]
    )
    service.deliver_and_run()
    [live] = service.decisions(hubspot_key(cid))
    assert (simulated["rep"], simulated["outcome"], simulated["pool"]) == (
        live.owner_email, live.outcome, live.pool,
    )  # fmt: skip
    assert simulated["rule"] == "Construction firms"
    assert simulated["reason"] == live.rule


def test_given_a_held_lead_when_the_mappings_are_reloaded_then_it_is_routed_again(
    service: Service, mappings_dir: Path
) -> None:
    (mappings_dir / "routing.yaml").write_text(ROUTING.replace("WHEN_NOBODY", "hold"))
    hours = {"working_hours": {"timezone": "Europe/Paris", "start": "09:00", "end": "18:00"}}
    calendar(mappings_dir, claire=hours, ines=hours)
    at(service, NIGHT)
    [cid] = service.hubspot.create_contacts(
        [{"email": "b@beton.fr", "industry": "CONSTRUCTION", **READY}]
    )
    service.deliver_and_run()
    assert service.decisions()[-1].outcome == Outcome.HELD

    team = mappings_dir / "team.yaml"
    data = yaml.safe_load(team.read_text())
    for rep in data["reps"]:
        if rep["email"] == INES:
            del rep["working_hours"]  # Inès now takes leads at any hour
    team.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False))
    service.runtime.mappings.reload()
    service.run()

    assert service.assignments()[hubspot_key(cid)] == INES
    assert service.decisions()[-1].outcome == Outcome.ASSIGNED


def test_given_a_rep_gone_for_good_then_the_others_take_the_leads(
    service: Service, routed: Path
) -> None:
    gone = {"out_of_office": [{"start": "2026-01-01", "end": "9999-12-31", "reason": "left"}]}
    calendar(service.runtime.settings.mappings_dir, ines=gone)
    at(service, WORKING)
    ids = service.hubspot.create_contacts(
        [{"email": f"b{i}@beton.fr", "industry": "CONSTRUCTION", **READY} for i in range(2)]
    )

    service.deliver_and_run()

    assert owners(service, ids) == Counter({CLAIRE: 2})
    assert {e.status for e in service.events()} == {"done"}


def test_given_a_lead_held_for_a_rule_named_rep_when_that_rep_resumes_then_it_gets_it(
    service: Service, mappings_dir: Path
) -> None:
    named = ROUTING.replace("WHEN_NOBODY", "fallback").replace(
        "  - name: default\n",
        "  - name: Hot leads to Lucas\n    when:\n      - {field: score, op: gte, value: 150}\n"
        "    rep: lucas.moreau@paieco.example\n    when_nobody: hold\n  - name: default\n",
    )
    (mappings_dir / "routing.yaml").write_text(named)
    at(service, WORKING)
    with service.db.transaction() as session:
        session.add(RepPause(email=LUCAS, since=WORKING))
    [cid] = service.hubspot.create_contacts(
        [{"email": "m@acier.fr", "industry": "MANUFACTURING", **READY}]
    )
    service.deliver_and_run()
    assert service.decisions()[-1].outcome == Outcome.HELD

    m = service.runtime.mappings.current
    with service.db.transaction() as session:
        assert resume(session, m.team, LUCAS, pools=pools_with(m, LUCAS)).resumed
    service.run()

    assert service.assignments()[hubspot_key(cid)] == LUCAS


def test_given_a_lead_held_because_the_fallback_was_away_when_it_resumes_then_it_gets_it(
    service: Service, routed: Path
) -> None:
    at(service, WORKING)
    with service.db.transaction() as session:
        session.add_all([RepPause(email=e, since=WORKING) for e in (CLAIRE, INES, HUGO)])
    [cid] = service.hubspot.create_contacts(
        [{"email": "b@beton.fr", "industry": "CONSTRUCTION", **READY}]
    )
    service.deliver_and_run()
    assert service.decisions()[-1].outcome == Outcome.HELD

    m = service.runtime.mappings.current
    with service.db.transaction() as session:
        assert resume(session, m.team, HUGO, pools=pools_with(m, HUGO)).resumed
    service.run()

    assert service.assignments()[hubspot_key(cid)] == HUGO
