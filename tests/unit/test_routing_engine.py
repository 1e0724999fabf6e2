from collections import Counter

from app.routing.engine import MemberState, PoolState, pick

MEMBERS = ["a", "b", "c", "d"]


def run(
    n: int, members: list[str], eligible: set[str], state: PoolState
) -> tuple[list[str], PoolState]:
    picked = []
    for _ in range(n):
        chosen, state = pick(members, eligible, state)
        assert chosen is not None
        picked.append(chosen)
    return picked, state


def test_given_a_fresh_pool_then_members_are_taken_in_rotation() -> None:
    picked, _ = run(8, MEMBERS, set(MEMBERS), PoolState(0, {}))
    assert picked == ["a", "b", "c", "d", "a", "b", "c", "d"]


def test_given_a_paused_member_then_others_keep_their_order() -> None:
    picked, state = run(4, MEMBERS, set(MEMBERS), PoolState(0, {}))
    picked, state = run(6, MEMBERS, {"a", "c", "d"}, state)
    assert picked == ["a", "c", "d", "a", "c", "d"]


def test_given_a_rep_back_from_a_long_absence_then_no_flood_and_no_starvation() -> None:
    _, state = run(4, MEMBERS, set(MEMBERS), PoolState(0, {}))
    _, state = run(45, MEMBERS, {"a", "c", "d"}, state)  # b away: the others get 15 more each
    picked, state = run(40, MEMBERS, set(MEMBERS), state)
    # b rejoins level with the others: one lead in each round of four, like everyone
    for start in range(0, 40, 4):
        assert sorted(picked[start : start + 4]) == MEMBERS
    assert picked[0] == "b"  # it waited longest, so it is first of its round


def test_given_a_rep_who_missed_one_lead_then_the_rotation_is_unchanged_for_others() -> None:
    _, state = run(4, MEMBERS, set(MEMBERS), PoolState(0, {}))
    picked, state = run(1, MEMBERS, {"a", "c", "d"}, state)  # b out for one lead
    picked, state = run(8, MEMBERS, set(MEMBERS), state)
    counts = Counter(picked)
    assert max(counts.values()) - min(counts.values()) <= 1


def test_given_a_new_member_then_it_joins_at_the_floor_without_flooding() -> None:
    _, state = run(400, MEMBERS, set(MEMBERS), PoolState(0, {}))
    members = [*MEMBERS, "e"]
    picked, state = run(50, members, set(members), state)
    share = Counter(picked)
    assert share["e"] <= 11  # an equal share of 50 among 5 is 10, not 50
    assert min(share.values()) >= 9


def test_given_no_eligible_member_then_no_one_is_picked_and_state_is_unchanged() -> None:
    state = PoolState(3, {"a": MemberState(2, 3, 3)})
    chosen, after = pick(MEMBERS, set(), state)
    assert chosen is None
    assert after.seq == 3


def test_long_run_is_equal_to_within_one() -> None:
    _, state = run(1001, MEMBERS, set(MEMBERS), PoolState(0, {}))
    counts = [s.assigned_count for s in state.members.values()]
    assert sum(counts) == 1001
    assert max(counts) - min(counts) == 1
