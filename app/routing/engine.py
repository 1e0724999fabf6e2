"""Pure round robin over per-member state.

Each member keeps its own count of leads, the sequence number of its last lead, and the
sequence at which it was last available. The next lead goes to the available member with the
fewest leads, then the longest wait, then the configured order. Because the state is per
member (not a list position), a rep who pauses shifts nobody; a rep who joins, or comes back
after missing rounds, starts level with the least-served available member: no flood of
catch-up leads, and no starvation either.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any


@dataclass(frozen=True)
class MemberState:
    assigned_count: int = 0
    last_seq: int = 0
    seen_seq: int = 0  # the pool's seq when this member was last available


@dataclass(frozen=True)
class PoolState:
    seq: int
    members: Mapping[str, MemberState]

    def snapshot(self) -> dict[str, Any]:
        """As JSON: kept in a decision's explanation, so that the pick can be replayed."""
        return {
            "seq": self.seq,
            "members": {
                m: [s.assigned_count, s.last_seq, s.seen_seq] for m, s in self.members.items()
            },
        }

    @classmethod
    def from_snapshot(cls, data: Mapping[str, Any]) -> PoolState:
        members = {m: MemberState(*values) for m, values in data["members"].items()}
        return cls(int(data["seq"]), members)


def join(members: Sequence[str], state: PoolState) -> PoolState:
    """Bring members missing from the state in at the current floor (no flood, no starvation)."""
    known = dict(state.members)
    floor = min((s.assigned_count for m, s in known.items() if m in members), default=0)
    for member in members:
        if member not in known:
            known[member] = MemberState(floor, last_seq=state.seq, seen_seq=state.seq)
    return PoolState(state.seq, known)


def _level_returning(candidates: Sequence[str], state: PoolState) -> PoolState:
    """Members available now but not at the previous lead are raised to the floor of those
    who were: they missed leads while away and must not take them all back at once."""
    steady = [m for m in candidates if state.members[m].seen_seq >= state.seq]
    if not steady or len(steady) == len(candidates):
        return state
    floor = min(state.members[m].assigned_count for m in steady)
    members = dict(state.members)
    for m in candidates:
        if members[m].seen_seq < state.seq and members[m].assigned_count < floor:
            members[m] = replace(members[m], assigned_count=floor)
    return PoolState(state.seq, members)


def pick(
    members: Sequence[str], eligible: Collection[str], state: PoolState
) -> tuple[str | None, PoolState]:
    """Choose the next member among ``eligible``; returns it and the advanced state."""
    state = join(members, state)
    candidates = [m for m in members if m in eligible]
    if not candidates:
        return None, state
    state = _level_returning(candidates, state)
    order = {m: i for i, m in enumerate(members)}
    chosen = min(
        candidates,
        key=lambda m: (state.members[m].assigned_count, state.members[m].last_seq, order[m]),
    )
    seq = state.seq + 1
    updated = {
        m: replace(s, seen_seq=seq) if m in candidates else s for m, s in state.members.items()
    }
    updated[chosen] = replace(
        updated[chosen], assigned_count=updated[chosen].assigned_count + 1, last_seq=seq
    )
    return chosen, PoolState(seq, updated)
