"""Who of a pool takes the next lead: round robin, weighted, least loaded. Pure: no database,
no clock; the caller gives the members, their availability and the pool's ``Rotation`` state,
and persists the state the pick returns (in the deciding transaction, like ``PoolState``).

Weighted. Each eligible member ``i`` (available, weight > 0) has the share
``p_i = w_i / sum(w)`` of every lead, and the state keeps its deficit ``d_i``: the leads its
shares add up to minus the leads it received. A lead goes, among the members for whom taking
it would not put them a whole lead ahead (``d_i + p_i > 0``), to the one whose deficit would
reach a whole lead first (smallest ``(1 - d_i) / p_i``), ties to the longest wait, then the
pool's order. This is earliest-deadline-first over the windows in which each member's j-th
lead keeps its count within 1 of its share (released at step ``floor((j-1)/p_i) + 1``, due at
``ceil(j/p_i)``), i.e. Balinski and Young's quota method; with a fixed set of members a
schedule meeting every window exists (Tijdeman, "The chairman assignment problem", 1980) and
EDF meets every window whenever one exists, so from a level state ``|count_i(n) - n p_i| < 1``
at every prefix n. (Picking the largest deficit alone does not: with eight members it lets
one fall 1.06 behind.)

When the eligible set changes, a member who was not eligible at the previous lead (new,
back from an absence, uncapped) starts level, ``d = 0``: it neither claims what it missed nor
pays for it. The others keep their deficits, shifted in proportion to their shares so that the
deficits sum to zero again (what the leavers were owed or ahead is spread, not lost).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from fractions import Fraction
from typing import Any

from app.routing import engine
from app.routing.availability import Availability, Reason

# Deficits are floats: they stay within about one lead, so rounding error is far below this,
# and comparing at this precision keeps exact ties (equal weights) to the stable order.
EPSILON = 1e-9


class PoolKind(StrEnum):
    ROUND_ROBIN = "round_robin"
    WEIGHTED = "weighted"
    LEAST_LOADED = "least_loaded"


@dataclass(frozen=True)
class Member:
    email: str
    weight: float = 1.0  # weighted: share relative to the others; 0 receives none
    open_leads: int = 0  # least_loaded: leads the member holds open now
    capacity: int | None = None  # least_loaded: open leads compared relative to it; 0: none


@dataclass(frozen=True)
class Standing:
    """One member's state in one pool."""

    count: int = 0  # leads received from this pool
    last_seq: int = 0  # the pool's seq at its last lead: the longest wait goes first on ties
    seen_seq: int = 0  # the pool's seq when it was last eligible
    deficit: float = 0.0  # weighted: shares accrued minus leads received, since it joined


@dataclass(frozen=True)
class Rotation:
    """A pool's state: its lead counter and each member's standing (per member, not a list
    position, so a member who pauses shifts nobody)."""

    seq: int = 0
    members: Mapping[str, Standing] = field(default_factory=dict)

    def snapshot(self) -> dict[str, Any]:
        """As JSON, ``PoolState.snapshot`` with the deficit as a fourth value."""
        return {
            "seq": self.seq,
            "members": {
                m: [s.count, s.last_seq, s.seen_seq, s.deficit] for m, s in self.members.items()
            },
        }

    @classmethod
    def from_snapshot(cls, data: Mapping[str, Any]) -> Rotation:
        """Reads its own snapshots and ``PoolState``'s (three values: no deficit yet)."""
        members = {
            m: Standing(int(v[0]), int(v[1]), int(v[2]), float(v[3]) if len(v) > 3 else 0.0)
            for m, v in data["members"].items()
        }
        return cls(int(data["seq"]), members)


@dataclass(frozen=True)
class Pick:
    kind: PoolKind
    rep: str | None  # None: nobody can take it (the rule's when_nobody applies)
    candidates: tuple[str, ...]  # the members who could take it, in the pool's order
    skipped: Mapping[str, tuple[Reason, ...]]  # unavailable members and why
    receives_none: tuple[str, ...]  # available, but weight 0 (weighted) or capacity 0
    standings: Mapping[str, Mapping[str, Any]]  # each candidate's standing at the pick
    seq: int  # the leads of the pool before this one
    state: Rotation  # the state to persist (unchanged when nobody was picked)

    def explanation(self) -> dict[str, Any]:
        return {
            "type": self.kind.value,
            "rep": self.rep,
            "candidates": list(self.candidates),
            "skipped": {m: [r.snapshot() for r in why] for m, why in self.skipped.items()},
            "receives_none": list(self.receives_none),
            "standings": {m: dict(s) for m, s in self.standings.items()},
            "pool_leads": self.seq,
        }


# A kind's choice among the candidates: (the pick or None, the state after, the standings).
Chooser = Callable[
    [Sequence[Member], Sequence[str], Rotation],
    tuple[str | None, Rotation, dict[str, dict[str, Any]]],
]


def pick(
    kind: PoolKind,
    members: Sequence[Member],
    state: Rotation,
    availability: Mapping[str, Availability] | None = None,
) -> Pick:
    """The member of the pool who takes the next lead. ``members`` in the pool's order (the
    last tie-break); a member missing from ``availability`` counts as available."""
    availability = availability or {}
    skipped = {
        m.email: availability[m.email].reasons
        for m in members
        if m.email in availability and not availability[m.email].available
    }
    none = tuple(m.email for m in members if m.email not in skipped and _receives_none(kind, m))
    candidates = [m.email for m in members if m.email not in skipped and m.email not in none]
    chosen, after, standings = CHOOSERS[kind](members, candidates, state)
    return Pick(kind, chosen, tuple(candidates), skipped, none, standings, state.seq, after)


def _receives_none(kind: PoolKind, member: Member) -> bool:
    if kind is PoolKind.WEIGHTED:
        return member.weight <= 0
    return kind is PoolKind.LEAST_LOADED and member.capacity == 0


def _round_robin(
    members: Sequence[Member], candidates: Sequence[str], state: Rotation
) -> tuple[str | None, Rotation, dict[str, dict[str, Any]]]:
    """Today's rotation (``engine.pick``): fewest leads, then longest wait, then order; a
    member who joins or returns starts at the floor of the others."""
    before = engine.PoolState(
        state.seq,
        {m: engine.MemberState(s.count, s.last_seq, s.seen_seq) for m, s in state.members.items()},
    )
    chosen, after = engine.pick([m.email for m in members], set(candidates), before)
    if chosen is None:
        return None, state, {}
    standings: dict[str, dict[str, Any]] = {
        m: {"count": after.members[m].assigned_count - (m == chosen)} for m in candidates
    }
    rotation = Rotation(
        after.seq,
        {
            m: Standing(
                s.assigned_count,
                s.last_seq,
                s.seen_seq,
                state.members[m].deficit if m in state.members else 0.0,
            )
            for m, s in after.members.items()
        },
    )
    return chosen, rotation, standings


def _weighted(
    members: Sequence[Member], candidates: Sequence[str], state: Rotation
) -> tuple[str | None, Rotation, dict[str, dict[str, Any]]]:
    if not candidates:
        return None, state, {}
    weights = {m.email: m.weight for m in members}
    total = sum(weights[m] for m in candidates)
    share = {m: weights[m] / total for m in candidates}
    deficit = _relevel(candidates, state, share)
    standing = {m: state.members.get(m, Standing()) for m in candidates}
    standings: dict[str, dict[str, Any]] = {
        m: {"count": standing[m].count, "share": share[m], "deficit": deficit[m]}
        for m in candidates
    }
    released = [m for m in candidates if deficit[m] + share[m] > EPSILON]
    order = {m: i for i, m in enumerate(candidates)}
    chosen = min(
        released or candidates,  # never empty in theory: the deficits sum to zero
        key=lambda m: (
            round((1 - deficit[m]) / share[m] / EPSILON),
            standing[m].last_seq,
            order[m],
        ),
    )
    seq = state.seq + 1
    updated = dict(state.members)
    for m in candidates:
        after = deficit[m] + share[m] - (m == chosen)
        updated[m] = replace(standing[m], seen_seq=seq, deficit=after)
    updated[chosen] = replace(updated[chosen], count=standing[chosen].count + 1, last_seq=seq)
    return chosen, Rotation(seq, updated), standings


def _relevel(
    candidates: Sequence[str], state: Rotation, share: Mapping[str, float]
) -> dict[str, float]:
    """Deficits before the pick: a member not eligible at the previous lead starts level
    (0); the others absorb what makes the sum zero, in proportion to their shares."""
    staying = [
        m for m in candidates if m in state.members and state.members[m].seen_seq >= state.seq
    ]
    deficit = {m: state.members[m].deficit if m in staying else 0.0 for m in candidates}
    staying_share = sum(share[m] for m in staying)
    if staying_share > 0:
        excess = sum(deficit.values())
        for m in staying:
            deficit[m] -= excess * share[m] / staying_share
    return deficit


def _least_loaded(
    members: Sequence[Member], candidates: Sequence[str], state: Rotation
) -> tuple[str | None, Rotation, dict[str, dict[str, Any]]]:
    """Fewest open leads relative to capacity (a member without one: its open leads as they
    are), ties to the longest wait since its last lead from this pool, then the pool's order."""
    if not candidates:
        return None, state, {}
    by_email = {m.email: m for m in members}
    load = {m: Fraction(by_email[m].open_leads, by_email[m].capacity or 1) for m in candidates}
    standing = {m: state.members.get(m, Standing()) for m in candidates}
    order = {m: i for i, m in enumerate(candidates)}
    chosen = min(candidates, key=lambda m: (load[m], standing[m].last_seq, order[m]))
    standings: dict[str, dict[str, Any]] = {
        m: {
            "count": standing[m].count,
            "open_leads": by_email[m].open_leads,
            "capacity": by_email[m].capacity,
            "load": float(load[m]),
        }
        for m in candidates
    }
    seq = state.seq + 1
    updated = dict(state.members)
    for m in candidates:
        updated[m] = replace(standing[m], seen_seq=seq)
    updated[chosen] = replace(updated[chosen], count=standing[chosen].count + 1, last_seq=seq)
    return chosen, Rotation(seq, updated), standings


CHOOSERS: dict[PoolKind, Chooser] = {
    PoolKind.ROUND_ROBIN: _round_robin,
    PoolKind.WEIGHTED: _weighted,
    PoolKind.LEAST_LOADED: _least_loaded,
}
