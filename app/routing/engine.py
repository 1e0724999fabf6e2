"""Pure round robin over per-member state.

Each member keeps its own count of leads and the sequence number of its last one; the next
lead goes to the eligible member with the fewest leads, then the longest wait, then the
configured order. Because the state is per member (not a list position), a rep who pauses
shifts nobody, and a rep who joins starts level with the least-served member instead of
flooding or starving.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class MemberState:
    assigned_count: int = 0
    last_seq: int = 0


@dataclass(frozen=True)
class PoolState:
    seq: int
    members: Mapping[str, MemberState]


def join(members: Sequence[str], state: PoolState) -> PoolState:
    """Bring members missing from the state in at the current floor (no flood, no starvation)."""
    known = {m: s for m, s in state.members.items()}
    floor = min((s.assigned_count for m, s in known.items() if m in members), default=0)
    for member in members:
        if member not in known:
            known[member] = MemberState(assigned_count=floor, last_seq=state.seq)
    return PoolState(state.seq, known)


def pick(
    members: Sequence[str], eligible: Collection[str], state: PoolState
) -> tuple[str | None, PoolState]:
    """Choose the next member among ``eligible``; returns it and the advanced state."""
    state = join(members, state)
    candidates = [m for m in members if m in eligible]
    if not candidates:
        return None, state
    order = {m: i for i, m in enumerate(members)}
    chosen = min(
        candidates,
        key=lambda m: (state.members[m].assigned_count, state.members[m].last_seq, order[m]),
    )
    seq = state.seq + 1
    updated = dict(state.members)
    updated[chosen] = MemberState(state.members[chosen].assigned_count + 1, seq)
    return chosen, PoolState(seq, updated)
