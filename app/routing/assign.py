"""The assign stage: who gets a lead, as a plan. Pure: no database, no HTTP, no clock.

It takes the person (the record the events are about and, when linked, the same person's
record in the other CRM, with the owners both CRMs show), the pool's configuration, the roster
(each rep's owner id in each CRM), the pool's rotation state and ``now``, and returns a plan:
the rep (or the owner kept), the outcome, a structured explanation, the next pool state and the
owner writes to queue. The live pipeline, a dry run and a backtest call the very same
function; a decision stores ``Person.snapshot()`` so that it can be replayed.

In order: a linked record Relais already assigned gives its rep (``linked``); a record without
an owner whose linked record is owned by a rep of the team takes that rep; a record that
already has an owner keeps it (``kept_owner``); otherwise round robin over the pool's active
members known in every CRM the person lives in (``assigned``), else the fallback owner.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from app.mappings.loader import Mappings
from app.routing import pools
from app.routing.availability import Availability
from app.routing.pools import PoolKind, Rotation
from app.routing.schemas import Outcome
from connectors.crm import Crm, RecordKey

Roster = Mapping[Crm, Mapping[str, str]]  # crm -> rep email -> owner id in that CRM


class NoOwnerAvailable(Exception):
    """Nobody can take the lead and the fallback owner cannot either: an admin must act."""


# Whether an owner outside the team is a choice to respect. HubSpot: yes, a person or a
# workflow set it. Salesforce: no, every record has one (its creator, the integration user, a
# queue), so only a rep of the team counts as an owner there.
RESPECTS_OUTSIDE_OWNER = {Crm.HUBSPOT: True, Crm.SALESFORCE: False}


@dataclass(frozen=True)
class Side:
    """One CRM record of the person, as the assign stage sees it."""

    key: RecordKey
    owner_id: str | None  # the owner the CRM shows
    owner_rep: str | None = None  # the rep of the team behind ``owner_id``, when there is one

    @property
    def owned(self) -> bool:
        """Already owned: by a rep of the team, or by an owner its CRM says to respect."""
        if self.owner_rep is not None:
            return True
        return bool(self.owner_id) and RESPECTS_OUTSIDE_OWNER[self.key.crm]

    def snapshot(self) -> dict[str, Any]:
        return {"key": str(self.key), "owner_id": self.owner_id, "owner_rep": self.owner_rep}

    @classmethod
    def from_snapshot(cls, data: Mapping[str, Any]) -> Side:
        return cls(RecordKey.parse(data["key"]), data.get("owner_id"), data.get("owner_rep"))


@dataclass(frozen=True)
class Person:
    record: Side  # the record the events are about
    other: Side | None = None  # the same person in the other CRM
    link_method: str | None = None
    other_assigned_to: str | None = None  # the rep Relais already gave ``other``

    @property
    def sides(self) -> tuple[Side, ...]:
        return (self.record,) if self.other is None else (self.record, self.other)

    @property
    def crms(self) -> list[Crm]:
        return sorted({s.key.crm for s in self.sides})

    def snapshot(self) -> dict[str, Any]:
        """What ``assign`` read of the person, as JSON: a decision keeps it to be replayed."""
        return {
            "record": self.record.snapshot(),
            "other": None if self.other is None else self.other.snapshot(),
            "link": None if self.link_method is None else {"method": self.link_method},
            "other_assigned_to": self.other_assigned_to,
        }

    @classmethod
    def from_snapshot(cls, data: Mapping[str, Any]) -> Person:
        other, link = data.get("other"), data.get("link")
        return cls(
            Side.from_snapshot(data["record"]),
            None if other is None else Side.from_snapshot(other),
            None if link is None else link.get("method"),
            data.get("other_assigned_to"),
        )


@dataclass(frozen=True)
class PoolConfig:
    """Where a lead goes: a pool of routing.yaml (or the one rep a rule names), how it picks,
    and what happens when nobody of it can take the lead."""

    name: str
    members: tuple[str, ...]
    active: frozenset[str]  # members who may receive new leads
    fallback_owner: str | None
    kind: PoolKind = PoolKind.ROUND_ROBIN
    weights: Mapping[str, float] = field(default_factory=dict)  # weighted pools (team.yaml)
    when_nobody: str = "fallback"  # fallback | hold
    rule: Mapping[str, Any] | None = None  # the routing rule that sent the lead here (data)
    persisted: bool = True  # a pool's rotation is kept; a rule's single rep has none

    @classmethod
    def default(cls, m: Mappings) -> PoolConfig:
        """The pool leads go to without routing rules (routing.yaml's default_pool)."""
        name = m.routing.default_pool
        pool = next(p for p in m.routing.pools if p.name == name)
        return cls.of(m, pool)

    @classmethod
    def of(cls, m: Mappings, pool: Any, **extra: Any) -> PoolConfig:
        members = tuple(pool.members_in(m.team))
        active = {e for e in members if (rep := m.rep(e)) is not None and rep.active}
        weights = {e: rep.weight for e in members if (rep := m.rep(e)) is not None}
        fallback = m.routing.fallback_owner
        return cls(
            pool.name, members, frozenset(active), fallback and fallback.lower(),
            PoolKind(pool.type), weights, **extra,
        )  # fmt: skip


@dataclass(frozen=True)
class PlannedWrite:
    key: RecordKey
    owner_id: str
    owner_before: str | None  # what the record showed when we decided


@dataclass(frozen=True)
class Plan:
    outcome: Outcome
    rep: str | None  # None: an owner outside the team is kept (``owner_crm_id``)
    owner_crm_id: str | None  # the owner id in the record's own CRM
    explanation: dict[str, Any]  # data: rendered in sentences at the edge
    state: Rotation  # the pool's state after this plan (unchanged unless the pool picked)
    writes: tuple[PlannedWrite, ...] = ()
    not_written: tuple[str, ...] = ()  # sides that keep their owner: the rep has no user there


def assign(
    person: Person,
    pool: PoolConfig,
    roster: Roster,
    state: Rotation,
    now: datetime,
    available: Mapping[str, Availability] | None = None,
) -> Plan:
    """``available``: each member's availability at ``now`` (paused, out of office, outside
    working hours, capped); a member missing from it can take leads."""
    record, other = person.record, person.other
    base: dict[str, Any] = {"pool": pool.name, "at": now.isoformat()}
    if pool.rule is not None:
        base["routing_rule"] = dict(pool.rule)
    if other is not None and person.other_assigned_to is not None:
        why: dict[str, Any] = {"rule": "linked", "other": str(other.key)}
        why["method"] = person.link_method
        return _plan(Outcome.LINKED, person.other_assigned_to, person, roster, state, base | why)
    if other is not None and not record.owned and other.owner_rep is not None:
        why = {"rule": "kept_linked_owner", "other": str(other.key), "crm": other.key.crm.value}
        return _plan(Outcome.KEPT_OWNER, other.owner_rep, person, roster, state, base | why)
    if record.owned:
        why = {"rule": "kept_owner", "rep": record.owner_rep, "owner_id": record.owner_id}
        if record.owner_rep is None:  # an owner outside the team: keep it, write nothing
            explanation = base | why | {"crm": record.key.crm.value}
            return Plan(Outcome.KEPT_OWNER, None, record.owner_id, explanation, state)
        why["crm"] = record.key.crm.value
        return _plan(Outcome.KEPT_OWNER, record.owner_rep, person, roster, state, base | why)
    return _from_pool(person, pool, roster, state, base, available or {})


def _from_pool(
    person: Person,
    pool: PoolConfig,
    roster: Roster,
    state: Rotation,
    base: dict[str, Any],
    available: Mapping[str, Availability],
) -> Plan:
    crms = person.crms
    unknown: dict[str, str] = {}
    for email in pool.members:
        if email not in pool.active:
            unknown[email] = "inactive in team.yaml"
        elif missing := [c.value for c in crms if email not in roster.get(c, {})]:
            unknown[email] = f"no user in {' and '.join(missing)}"
    members = [
        pools.Member(e, weight=pool.weights.get(e, 1.0)) for e in pool.members if e not in unknown
    ]
    picked = pools.pick(pool.kind, members, state, available)
    why: dict[str, Any] = base | {"crms": [c.value for c in crms], "pick": picked.explanation()}
    why |= {"candidates": list(picked.candidates), "skipped": _skipped(unknown, picked)}
    # the leads each candidate had from this pool when the pick was made
    why["counts"] = {e: st["count"] for e, st in picked.standings.items()}
    if picked.rep is not None:
        why |= {"rule": pool.kind.value, "rep": picked.rep, "pool_before": state.snapshot()}
        return _plan(Outcome.ASSIGNED, picked.rep, person, roster, picked.state, why)
    if pool.when_nobody == "hold" and picked.skipped:
        # Kept until someone of the pool can take it: the caller schedules the next try. (A
        # pool whose members are all inactive or unknown in a CRM has nobody to wait for.)
        return Plan(Outcome.HELD, None, None, why | {"rule": "hold"}, state)
    fallback = _fallback(pool, roster, crms)
    away = available.get(fallback)
    if away is not None and not away.available:
        # The fallback rep is paused, away, outside hours or capped too: the lead waits for
        # whoever of the pool or the fallback can take it first, rather than going to a rep
        # who cannot.
        reasons = ", ".join(r.why.value.replace("_", " ") for r in away.reasons)
        why |= {"rule": "hold", "fallback_unavailable": {fallback: reasons}}
        return Plan(Outcome.HELD, None, None, why, state)
    # The rotation did not run: its state stays as it was (nobody joins it on a fallback).
    return _plan(Outcome.FALLBACK, fallback, person, roster, state, why | {"rule": "fallback"})


def _skipped(unknown: Mapping[str, str], picked: pools.Pick) -> dict[str, str]:
    """Each member who could not take the lead, and why, in words an admin reads."""
    out = dict(unknown)
    for email, reasons in picked.skipped.items():
        out[email] = ", ".join(r.why.value.replace("_", " ") for r in reasons)
    for email in picked.receives_none:
        out[email] = "weight 0" if picked.kind is PoolKind.WEIGHTED else "capacity 0"
    return out


def _fallback(pool: PoolConfig, roster: Roster, crms: list[Crm]) -> str:
    if pool.fallback_owner is None:
        raise NoOwnerAvailable(
            f"no rep of pool {pool.name!r} can take leads (inactive in team.yaml, or unknown "
            f"in {' or '.join(crms)}) and routing.yaml has no fallback_owner"
        )
    missing = [c.value for c in crms if pool.fallback_owner not in roster.get(c, {})]
    if missing:
        raise NoOwnerAvailable(
            f"no rep of pool {pool.name!r} can take leads, and the fallback owner "
            f"{pool.fallback_owner} is unknown in {', '.join(missing)}"
        )
    return pool.fallback_owner


def _plan(
    outcome: Outcome,
    rep: str,
    person: Person,
    roster: Roster,
    state: Rotation,
    explanation: dict[str, Any],
) -> Plan:
    """The owner writes that give ``rep`` every side of the person that does not show it."""
    writes: list[PlannedWrite] = []
    gaps: list[str] = []
    for side in person.sides:
        owner_id = roster.get(side.key.crm, {}).get(rep)
        if owner_id is None:
            # A kept or linked rep this CRM does not know: that side keeps its owner; the gap
            # is in the decision and in the team.rep_unknown_in_crm log.
            gaps.append(f"{side.key}: {rep} has no user in {side.key.crm}")
        elif side.owner_id != owner_id:
            writes.append(PlannedWrite(side.key, owner_id, side.owner_id))
    own_id = roster.get(person.record.key.crm, {}).get(rep)
    explanation = explanation | {"rep": rep}
    return Plan(outcome, rep, own_id, explanation, state, tuple(writes), tuple(gaps))
