"""Where a ready lead goes, and who of the team can take leads now. Pure: the mappings, the
lead, its score, the admins' pauses and each rep's counts in; no database, no clock.

- ``target``: routing.yaml's rules (first match wins; without rules, ``default_pool``) give a
  pool, or the one rep a rule names, as a ``PoolConfig`` carrying the rule's explanation (the
  rule that matched and each rule before it with the condition that did not hold).
- ``team_availability``: each rep of team.yaml at ``now`` (paused, inactive, out of office,
  outside working hours, daily or weekly cap reached), for the pool to skip with the reason.
- ``hold_until``: when the first member of a pool can take a lead again (``when_nobody:
  hold``), or None when only a person can make one available (a pause, an inactive rep).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from app.mappings.fields import FieldType
from app.mappings.loader import Mappings
from app.routing import rules
from app.routing.assign import PoolConfig
from app.routing.availability import (
    Availability,
    Counts,
    availability,
    next_available,
    periods,
)
from app.routing.pools import PoolKind
from app.scoring.engine import Lead, ScoreResult

MIN_HOLD = timedelta(minutes=1)


def target(
    m: Mappings, lead: Lead, score: ScoreResult, types: Mapping[str, FieldType]
) -> PoolConfig:
    routing = m.routing
    if not routing.rules:
        return PoolConfig.default(m)
    evaluation = rules.Evaluation(score.total, score.grade, score.temperature)
    matched = rules.match(routing.rules, lead, evaluation, types)
    rule = matched.rule
    why: dict[str, Any] = {"name": rule.name, "index": matched.index, "target": matched.target[0]}
    why["not_matched"] = [
        {
            "rule": s.rule,
            "condition": s.condition.model_dump(mode="json", exclude_none=True, by_alias=True),
            "seen": s.seen,
        }
        for s in matched.skipped
    ]
    kind, name = matched.target
    if kind == "pool":
        pool = next(p for p in routing.pools if p.name == name)
        return PoolConfig.of(m, pool, when_nobody=rule.when_nobody, rule=why)
    if kind == "rep":
        rep = m.rep(name)
        active = frozenset({name} if rep is not None and rep.active else ())
        fallback = routing.fallback_owner
        return PoolConfig(
            f"rep {name}", (name,), active, fallback, PoolKind.ROUND_ROBIN, {},
            rule.when_nobody, why, persisted=False,
        )  # fmt: skip
    # The loader refuses queue targets until the engine writes to queues (ENGINE_SUPPORTS).
    raise ValueError(f"routing rule {rule.name!r}: a {kind} target is not supported yet")


def pools_with(m: Mappings, email: str) -> list[str] | None:
    """Where the rep can take held leads: the pools of routing.yaml it is a member of (listed,
    or by a segment) and the rules naming it; None (every pool) for the fallback rep, who
    takes any pool's lead nobody else can."""
    email = email.lower()
    if m.routing.fallback_owner == email:
        return None
    return [p.name for p in m.routing.pools if email in p.members_in(m.team)] + [f"rep {email}"]


def pool_names(m: Mappings) -> list[str]:
    """Every pool of routing.yaml: a batch locks them all (in name order) before deciding."""
    return sorted(p.name for p in m.routing.pools)


def team_availability(
    m: Mappings, now: datetime, paused: Collection[str], counts: Mapping[str, Counts]
) -> dict[str, Availability]:
    return {
        r.email: availability(r, now, paused=r.email in paused, counts=counts.get(r.email))
        for r in m.team.reps
    }


def hold_until(
    away: Collection[str],
    m: Mappings,
    now: datetime,
    paused: Collection[str],
    counts: Mapping[str, Counts],
) -> datetime | None:
    """The earliest instant one of ``away`` (the pool's members its calendar or a pause kept
    from the lead: not those unknown in a CRM) can take a lead, if one ever will unaided;
    always later than ``now``."""
    times = [
        at
        for email in away
        if (rep := m.rep(email)) is not None
        and (at := next_available(rep, now, paused=email in paused, counts=counts.get(email)))
        is not None
    ]
    soonest = min(times, default=None)
    # Never now itself: the try would come back at once and hold the lead again.
    return None if soonest is None else max(soonest, now + MIN_HOLD)


def team_counts(
    m: Mappings, now: datetime, given: Sequence[tuple[str, int, datetime]]
) -> dict[str, Counts]:
    """Each rep's leads since the start of its day and its week, in its own time zone, from
    the ledger's (rep, decision, when) rows: a person in both CRMs is one lead (one
    decision), whatever the pool it came from."""
    out: dict[str, Counts] = {}
    for rep in m.team.reps:
        bounds = periods(rep, now)
        mine = {(d, at) for email, d, at in given if email == rep.email}
        today = len({d for d, at in mine if at >= bounds.day_start})
        week = len({d for d, at in mine if at >= bounds.week_start})
        out[rep.email] = Counts(today, week)
    return out


def week_start(m: Mappings, now: datetime) -> datetime:
    """The earliest start of a rep's current week: the ledger is read from there."""
    return min((periods(r, now).week_start for r in m.team.reps), default=now)
