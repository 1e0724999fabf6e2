"""Pause and resume a rep, and what a rep's availability is made of: the logic behind
`relais reps` and /admin/api/reps.

A pause is a row in ``rep_pauses``; the assign stage reads every pause once per batch
(``RepPauseRepository.paused``), so a toggle takes effect from the next lead. Only reps of the
current mappings' team.yaml can be paused or resumed; the rest of a rep's calendar (active,
working hours, out of office) is team.yaml's, shown alongside.
"""

from __future__ import annotations

import difflib
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from app.db import utcnow
from app.decisions.repository import DecisionRepository
from app.inbox.repository import InboxRepository
from app.mappings.schemas import Rep, Team
from app.reps.models import RepPause
from app.reps.repository import RepPauseRepository
from app.routing.schemas import HOLD_EVENT

MAX_REASON = 500  # a sentence for the other admins, not a document


class UnknownRep(Exception):
    """The email is not a rep of team.yaml."""

    def __init__(self, email: str, known: list[str]) -> None:
        close = difflib.get_close_matches(email, known, n=1, cutoff=0.6)
        self.email = email
        self.suggestion: str | None = close[0] if close else None
        hint = f", did you mean {self.suggestion!r}?" if self.suggestion else ""
        super().__init__(f"{email!r} is not a rep of team.yaml{hint}")


class InvalidReason(ValueError):
    """The reason of a pause is too long."""


@dataclass(frozen=True)
class Toggled:
    """What a pause or a resume did. ``changed``: the rep's paused state changed (a resume
    that changed it may free leads held for want of an available rep)."""

    rep: Rep
    changed: bool
    pause: RepPause | None  # the pause now in force; None: not paused

    @property
    def resumed(self) -> bool:
        return self.changed and self.pause is None

    def to_json(self) -> dict[str, Any]:
        return {**rep_availability(self.rep, self.pause), "changed": self.changed}


def find_rep(team: Team, email: str) -> Rep:
    """The rep of team.yaml with this email (any case); UnknownRep otherwise."""
    wanted = email.strip().lower()
    for rep in team.reps:
        if rep.email == wanted:
            return rep
    raise UnknownRep(wanted, [r.email for r in team.reps])


def rep_availability(rep: Rep, pause: RepPause | None) -> dict[str, Any]:
    """What makes ``rep`` available or not, as JSON-able data: the admin's toggle (paused,
    since when, why) and team.yaml's calendar (active, working hours, out of office)."""
    hours = rep.working_hours
    return {
        "email": rep.email,
        "name": rep.name,
        "paused": pause is not None,
        "since": pause.since.isoformat() if pause is not None else None,
        "reason": pause.reason if pause is not None else None,
        "active": rep.active,
        "working_hours": hours.model_dump(mode="json") if hours is not None else None,
        "out_of_office": [a.model_dump(mode="json") for a in rep.out_of_office],
    }


def availability_of(session: Session, team: Team, email: str) -> dict[str, Any]:
    """One rep's availability data; UnknownRep when it is not in team.yaml."""
    rep = find_rep(team, email)
    return rep_availability(rep, RepPauseRepository(session).get(rep.email))


def team_availability(session: Session, team: Team) -> list[dict[str, Any]]:
    """Every rep of team.yaml, in its order, with its availability data."""
    pauses = RepPauseRepository(session).paused()
    return [rep_availability(rep, pauses.get(rep.email)) for rep in team.reps]


def pause(session: Session, team: Team, email: str, now: datetime, reason: str | None) -> Toggled:
    """Pause a rep from ``now`` (one already paused keeps its start; a reason given replaces
    the old one)."""
    rep = find_rep(team, email)
    repository = RepPauseRepository(session)
    changed = repository.pause(rep.email, now, _reason(reason))
    return Toggled(rep, changed, repository.get(rep.email))


def resume(
    session: Session,
    team: Team,
    email: str,
    now: datetime | None = None,
    pools: Collection[str] | None = None,
) -> Toggled:
    """Resume a rep; ``changed`` is False when it was not paused. The leads held in the
    ``pools`` the rep is in (None: every pool) come back to the inbox now: the rep may be the
    one who can take them."""
    rep = find_rep(team, email)
    changed = RepPauseRepository(session).resume(rep.email)
    if changed:
        release_held(session, f"{rep.email} resumed", now or utcnow(), pools)
    return Toggled(rep, changed, None)


def release_held(
    session: Session, why: str, now: datetime, pools: Collection[str] | None = None
) -> int:
    """Send the leads held in ``pools`` (None: any) through the pipeline again, each in place
    of its scheduled try; returns how many."""
    inbox = InboxRepository(session)
    held = DecisionRepository(session).held(None if pools is None else list(pools))
    for key in held:
        inbox.drop_pending(key, HOLD_EVENT, f"released: {why}")
        inbox.enqueue(key, HOLD_EVENT, f"{why} at {now.isoformat()}", {"released": why}, now)
    return len(held)


def set_available(
    session: Session,
    team: Team,
    email: str,
    now: datetime,
    available: bool,
    reason: str | None,
    pools: Collection[str] | None = None,
) -> Toggled:
    """``available``: resume the rep; otherwise pause it (with ``reason``)."""
    if available:
        return resume(session, team, email, now, pools)
    return pause(session, team, email, now, reason)


def _reason(reason: str | None) -> str | None:
    text = (reason or "").strip()
    if len(text) > MAX_REASON:
        raise InvalidReason(f"the reason is longer than {MAX_REASON} characters")
    return text or None
