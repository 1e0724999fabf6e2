"""The assign stage, pure: no database, no HTTP, no clock."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from app.decisions.explain import describe
from app.ownersync.service import OwnerSeen
from app.ownersync.service import plan as plan_sync
from app.routing.assign import NoOwnerAvailable, Person, PlannedWrite, PoolConfig, Side, assign
from app.routing.availability import Availability, Reason, Why
from app.routing.pools import PoolKind, Rotation
from app.routing.schemas import Outcome
from connectors.crm import Crm, RecordKey

NOW = datetime(2026, 11, 26, 9, 30, tzinfo=UTC)
ANA, BEN, CLO = "ana@x.fr", "ben@x.fr", "clo@x.fr"
HS = RecordKey.hubspot("901")
SF = RecordKey.salesforce("Lead", "00Q000000000001AAA")
INTEGRATION_USER = "005000000000009AAA"
ROSTER = {
    Crm.HUBSPOT: {ANA: "11", BEN: "12", CLO: "13"},
    Crm.SALESFORCE: {ANA: "005000000000001AAA", BEN: "005000000000002AAA"},
}
POOL = PoolConfig("inbound", (ANA, BEN, CLO), frozenset({ANA, BEN, CLO}), None)
FRESH = Rotation(0, {})


def test_given_a_new_hubspot_contact_then_round_robin_gives_the_first_rep_and_one_write() -> None:
    plan = assign(Person(Side(HS, None)), POOL, ROSTER, FRESH, NOW)
    assert (plan.outcome, plan.rep, plan.owner_crm_id) == (Outcome.ASSIGNED, ANA, "11")
    assert plan.writes == (PlannedWrite(HS, "11", None),)
    assert plan.state.seq == 1 and plan.state.members[ANA].count == 1
    assert plan.explanation["rule"] == "round_robin"
    assert plan.explanation["candidates"] == [ANA, BEN, CLO]
    assert describe(plan.explanation).startswith(
        "round robin in pool inbound: ana@x.fr had the fewest leads (0)"
    )


def test_given_successive_plans_then_the_state_they_return_rotates_the_reps() -> None:
    state, picked = FRESH, []
    for _ in range(6):
        plan = assign(Person(Side(HS, None)), POOL, ROSTER, state, NOW)
        state = plan.state
        picked.append(plan.rep)
    assert picked == [ANA, BEN, CLO, ANA, BEN, CLO]


def test_given_a_person_in_both_crms_then_only_reps_known_in_both_are_candidates() -> None:
    person = Person(Side(HS, None), Side(SF, INTEGRATION_USER), "email")
    plan = assign(person, POOL, ROSTER, FRESH, NOW)
    assert plan.rep == ANA
    assert plan.explanation["skipped"] == {CLO: "no user in salesforce"}
    assert set(plan.writes) == {
        PlannedWrite(HS, "11", None),
        PlannedWrite(SF, "005000000000001AAA", INTEGRATION_USER),
    }


def test_given_an_inactive_rep_then_they_are_skipped_with_the_reason() -> None:
    pool = PoolConfig("inbound", (ANA, BEN), frozenset({BEN}), None)
    plan = assign(Person(Side(HS, None)), pool, ROSTER, FRESH, NOW)
    assert plan.rep == BEN
    assert plan.explanation["skipped"] == {ANA: "inactive in team.yaml"}


def test_given_a_hubspot_owner_outside_the_team_then_it_is_kept_and_nothing_written() -> None:
    plan = assign(Person(Side(HS, "77")), POOL, ROSTER, FRESH, NOW)
    assert (plan.outcome, plan.rep, plan.owner_crm_id, plan.writes) == (
        Outcome.KEPT_OWNER,
        None,
        "77",
        (),
    )
    assert plan.state == FRESH  # the rotation did not move
    assert describe(plan.explanation) == "the hubspot record already has an owner (77)"


def test_given_a_salesforce_lead_owned_by_the_integration_user_then_it_is_routed() -> None:
    plan = assign(Person(Side(SF, INTEGRATION_USER)), POOL, ROSTER, FRESH, NOW)
    assert plan.outcome is Outcome.ASSIGNED and plan.rep == ANA
    assert plan.writes == (PlannedWrite(SF, "005000000000001AAA", INTEGRATION_USER),)


def test_given_a_record_owned_by_a_rep_then_the_rep_is_kept_and_the_other_side_follows() -> None:
    person = Person(Side(SF, "005000000000002AAA", BEN), Side(HS, None), "email")
    plan = assign(person, POOL, ROSTER, FRESH, NOW)
    assert (plan.outcome, plan.rep) == (Outcome.KEPT_OWNER, BEN)
    assert plan.writes == (PlannedWrite(HS, "12", None),)
    assert describe(plan.explanation) == f"the salesforce record already has an owner ({BEN})"


def test_given_a_linked_record_assigned_already_then_the_same_rep_is_given() -> None:
    person = Person(Side(SF, INTEGRATION_USER), Side(HS, "12", BEN), "email", other_assigned_to=BEN)
    plan = assign(person, POOL, ROSTER, FRESH, NOW)
    assert (plan.outcome, plan.rep) == (Outcome.LINKED, BEN)
    assert plan.writes == (PlannedWrite(SF, "005000000000002AAA", INTEGRATION_USER),)
    assert (
        describe(plan.explanation)
        == f"same person as {HS} (linked by email), already assigned to {BEN}"
    )


def test_given_a_kept_rep_unknown_in_the_other_crm_then_the_gap_is_said() -> None:
    person = Person(Side(HS, "13", CLO), Side(SF, INTEGRATION_USER), "email")
    plan = assign(person, POOL, ROSTER, FRESH, NOW)
    assert plan.rep == CLO and plan.writes == ()
    assert plan.not_written == (f"{SF}: {CLO} has no user in salesforce",)


def test_given_nobody_available_then_the_fallback_owner_gets_it() -> None:
    pool = PoolConfig("inbound", (ANA,), frozenset(), BEN)
    plan = assign(Person(Side(HS, None)), pool, ROSTER, FRESH, NOW)
    assert (plan.outcome, plan.rep) == (Outcome.FALLBACK, BEN)
    assert describe(plan.explanation) == (
        "nobody of pool inbound can take it now (inactive in team.yaml): fallback owner"
    )


def test_given_a_weighted_pool_then_shares_follow_the_weights_and_the_sentence_says_so() -> None:
    pool = replace(POOL, kind=PoolKind.WEIGHTED, weights={ANA: 2.0, BEN: 1.0, CLO: 1.0})
    state, picked = FRESH, list[str | None]()
    for _ in range(8):
        plan = assign(Person(Side(HS, None)), pool, ROSTER, state, NOW)
        state, picked = plan.state, [*picked, plan.rep]
    assert (picked.count(ANA), picked.count(BEN), picked.count(CLO)) == (4, 2, 2)
    assert describe(plan.explanation).startswith("weighted rotation in pool inbound: ")
    assert "share 25%" in describe(plan.explanation) or "share 50%" in describe(plan.explanation)


def test_given_a_paused_and_a_capped_rep_then_they_are_skipped_with_the_reason() -> None:
    available = {
        ANA: Availability(ANA, (Reason(Why.PAUSED),)),
        BEN: Availability(BEN, (Reason(Why.CAPPED_DAY, count=20, limit=20),)),
    }
    plan = assign(Person(Side(HS, None)), POOL, ROSTER, FRESH, NOW, available)
    assert plan.rep == CLO
    assert plan.explanation["skipped"] == {ANA: "paused", BEN: "capped day"}


def test_given_nobody_available_and_hold_then_the_lead_is_held_and_the_rotation_kept() -> None:
    pool = replace(POOL, when_nobody="hold")
    away = {e: Availability(e, (Reason(Why.OUTSIDE_HOURS),)) for e in (ANA, BEN, CLO)}
    plan = assign(Person(Side(HS, None)), pool, ROSTER, FRESH, NOW, away)
    assert (plan.outcome, plan.rep, plan.writes, plan.state) == (Outcome.HELD, None, (), FRESH)
    assert describe(plan.explanation | {"held_until": "2026-11-27T07:30:00+00:00"}) == (
        "nobody of pool inbound can take it now (outside hours): held until "
        "2026-11-27T07:30:00+00:00"
    )


@pytest.mark.parametrize(
    ("fallback", "says"),
    [
        (None, "routing.yaml has no fallback_owner"),
        (CLO, f"the fallback owner {CLO} is unknown in salesforce"),
    ],
)
def test_given_nobody_available_and_no_usable_fallback_then_the_admin_is_told(
    fallback: str | None, says: str
) -> None:
    pool = PoolConfig("inbound", (ANA,), frozenset(), fallback)
    with pytest.raises(NoOwnerAvailable, match=says):
        assign(Person(Side(SF, INTEGRATION_USER)), pool, ROSTER, FRESH, NOW)


def test_the_explanation_is_data_with_the_counts_and_the_pool_before_the_pick() -> None:
    before = FRESH
    for _ in range(2):
        before = assign(Person(Side(HS, None)), POOL, ROSTER, before, NOW).state
    plan = assign(Person(Side(HS, None)), POOL, ROSTER, before, NOW)
    assert plan.explanation["at"] == NOW.isoformat()
    # the leads each had when the pick was made: CLO had the fewest, and got this one
    assert plan.explanation["counts"] == {ANA: 1, BEN: 1, CLO: 0}
    assert Rotation.from_snapshot(plan.explanation["pool_before"]) == before
    assert describe(plan.explanation) == (
        "round robin in pool inbound: clo@x.fr had the fewest leads (0) among 3 reps "
        "available in hubspot"
    )


@pytest.mark.parametrize(
    "person",
    [
        Person(Side(HS, None)),
        Person(Side(HS, "77")),
        Person(Side(SF, INTEGRATION_USER), Side(HS, "12", BEN), "email", other_assigned_to=BEN),
        Person(Side(HS, None), Side(SF, "005000000000002AAA", BEN), "stored_id"),
    ],
)
def test_a_decision_replayed_from_its_snapshot_gives_the_same_plan(person: Person) -> None:
    before = assign(Person(Side(HS, None)), POOL, ROSTER, FRESH, NOW).state
    plan = assign(person, POOL, ROSTER, before, NOW)
    replayed = Person.from_snapshot(json.loads(json.dumps(person.snapshot())))
    assert replayed == person
    assert assign(replayed, POOL, ROSTER, before, NOW) == plan


def test_given_a_fallback_then_the_rotation_state_does_not_move() -> None:
    pool = PoolConfig("inbound", (ANA, BEN), frozenset(), CLO)
    plan = assign(Person(Side(HS, None)), pool, ROSTER, FRESH, NOW)
    assert plan.outcome is Outcome.FALLBACK and plan.state == FRESH


# -- owner sync, pure --------------------------------------------------------------------


def test_given_a_person_moves_the_lead_in_the_source_of_truth_then_it_is_copied() -> None:
    decided = plan_sync(ANA, OwnerSeen(Crm.SALESFORCE, BEN), HS, Crm.SALESFORCE, ROSTER)
    assert decided.outcome is Outcome.OWNER_SYNCED
    assert decided.change is not None
    assert (decided.change.to, decided.change.to_id, decided.change.before_id) == (BEN, "12", "11")


def test_given_a_change_outside_the_source_of_truth_then_it_is_not_copied() -> None:
    decided = plan_sync(ANA, OwnerSeen(Crm.HUBSPOT, BEN), SF, Crm.SALESFORCE, ROSTER)
    assert decided.outcome is Outcome.ALREADY_ASSIGNED and decided.change is None
    assert "salesforce is the owner's source of truth" in decided.note


def test_given_the_owner_we_gave_then_nothing_changes() -> None:
    decided = plan_sync(ANA, OwnerSeen(Crm.SALESFORCE, ANA), HS, Crm.SALESFORCE, ROSTER)
    assert (decided.outcome, decided.note) == (Outcome.ALREADY_ASSIGNED, f"owned by {ANA}")


def test_given_a_new_rep_unknown_in_the_other_crm_then_it_is_not_copied() -> None:
    decided = plan_sync(ANA, OwnerSeen(Crm.HUBSPOT, CLO), SF, Crm.HUBSPOT, ROSTER)
    assert decided.change is None and "unknown in salesforce" in decided.note
