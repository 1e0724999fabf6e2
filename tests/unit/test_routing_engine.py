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


def test_given_a_paused_member_then_others_keep_their_order_and_nobody_is_skipped_twice() -> None:
    picked, state = run(4, MEMBERS, set(MEMBERS), PoolState(0, {}))
    picked, state = run(6, MEMBERS, {"a", "c", "d"}, state)
    assert picked == ["a", "c", "d", "a", "c", "d"]
    # b comes back: it is owed leads but does not flood (it is level in two picks at most)
    picked, state = run(4, MEMBERS, set(MEMBERS), state)
    assert picked[:2] == ["b", "b"]
    counts = {m: s.assigned_count for m, s in state.members.items()}
    assert max(counts.values()) - min(counts.values()) <= 1


def test_given_a_new_member_then_it_joins_at_the_floor_without_flooding() -> None:
    _, state = run(400, MEMBERS, set(MEMBERS), PoolState(0, {}))
    members = [*MEMBERS, "e"]
    picked, state = run(50, members, set(members), state)
    share = Counter(picked)
    assert share["e"] <= 11  # an equal share of 50 among 5 is 10, not 50
    assert min(share.values()) >= 9


def test_given_no_eligible_member_then_no_one_is_picked_and_state_is_unchanged() -> None:
    state = PoolState(3, {"a": MemberState(2, 3)})
    chosen, after = pick(MEMBERS, set(), state)
    assert chosen is None
    assert after.seq == 3


def test_long_run_is_equal_to_within_one() -> None:
    _, state = run(1001, MEMBERS, set(MEMBERS), PoolState(0, {}))
    counts = [s.assigned_count for s in state.members.values()]
    assert sum(counts) == 1001
    assert max(counts) - min(counts) == 1
