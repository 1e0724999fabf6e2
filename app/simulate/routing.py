"""The dry run's routing: who the live path would give a ready lead to now, and why, from the
state it would read (each pool's rotation, the pauses, the leads each rep received today and
this week), read without a lock and written nowhere."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlmodel import col

from app.db import Database
from app.decisions.explain import describe
from app.decisions.repository import DecisionRepository
from app.mappings.loader import Mappings
from app.reps.models import RepPause
from app.routing import targets
from app.routing.assign import NoOwnerAvailable, Person, Side, assign
from app.routing.availability import Counts
from app.routing.pools import Rotation
from app.routing.repository import RotationRepository
from app.scoring.engine import Lead, ScoreResult
from connectors.crm import Crm, RecordKey

SIMULATED = RecordKey.hubspot("simulated")  # a lead given as fields: a new HubSpot contact


@dataclass(frozen=True)
class World:
    """What the assign stage reads besides the lead."""

    states: dict[str, Rotation] = field(default_factory=dict)
    paused: frozenset[str] = frozenset()
    counts: dict[str, Counts] = field(default_factory=dict)


def read_world(db: Database, m: Mappings, at: datetime) -> World:
    with db.transaction() as session:
        states = RotationRepository(session).peek(targets.pool_names(m))
        given = DecisionRepository(session).given_since(targets.week_start(m, at))
        paused = frozenset(session.scalars(select(col(RepPause.email))).all())
    return World(states, paused, targets.team_counts(m, at, given))


def route(
    lead: Lead,
    result: ScoreResult,
    m: Mappings,
    at: datetime,
    world: World,
    record: RecordKey | None = None,
) -> dict[str, Any]:
    """The routing decision for the lead (pure over ``world``). Every rep is taken to have a
    user in the lead's CRM (the dry run lists no CRM users): a rep the CRM does not know
    would be skipped live."""
    pool = targets.target(m, lead, result, m.field_types())
    key = record or SIMULATED
    roster = {crm: {r.email: r.email for r in m.team.reps} for crm in Crm}
    available = targets.team_availability(m, at, world.paused, world.counts)
    state = world.states.get(pool.name, Rotation())
    try:
        plan = assign(Person(Side(key, None)), pool, roster, state, at, available)
    except NoOwnerAvailable as exc:
        return {"pool": pool.name, "outcome": "no_owner", "rep": None, "reason": str(exc)}
    return {
        "pool": pool.name,
        "rule": (pool.rule or {}).get("name"),
        "outcome": plan.outcome.value,
        "rep": plan.rep,
        "reason": describe(plan.explanation),
        "explanation": plan.explanation,
    }
