"""GET /admin/api/decisions/{record_key}: a record's decisions, with their explanation;
GET /admin/api/decisions: a search through every decision (record, rep, rule, outcome, pool,
since), newest first, a page at a time."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from app.db import utcnow
from app.decisions.explain import explain
from app.decisions.models import Decision
from app.decisions.repository import DecisionRepository, DecisionSearch
from app.deps import AdminDep, RuntimeDep
from app.routing.schemas import Outcome
from connectors.crm import RecordKey

router = APIRouter(prefix="/admin/api", dependencies=[AdminDep])


class DecisionView(BaseModel):
    id: int
    record_key: str
    outcome: str
    owner_email: str | None
    rule: str
    score: int | None
    decided_at: datetime
    written_at: datetime | None
    details: dict[str, Any]
    explanation: list[str]


@router.get("/decisions/{record_key}", response_model=list[DecisionView])
async def decisions_of(record_key: str, runtime: RuntimeDep) -> list[DecisionView]:
    """Every decision about one CRM record (``hubspot:contact:123``,
    ``salesforce:Lead:00Q...``), oldest first, each with its explanation."""

    def load() -> list[DecisionView]:
        with runtime.db.transaction() as session:
            return [
                DecisionView(
                    id=d.id or 0,
                    record_key=d.record_key,
                    outcome=d.outcome,
                    owner_email=d.owner_email,
                    rule=d.rule,
                    score=d.score,
                    decided_at=d.decided_at,
                    written_at=d.written_at,
                    details=d.details or {},
                    explanation=explain(d),
                )
                for d in DecisionRepository(session).for_record(record_key)
            ]

    return await run_in_threadpool(load)


MAX_LIMIT = 500
DURATION = re.compile(r"(\d{1,6})([mhdw])")
UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
OUTCOMES = sorted(o.value for o in Outcome)


class InvalidSearch(ValueError):
    """Some parameters of a decisions search are not valid: each says what is wrong."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("; ".join(errors))
        self.errors = errors


def parse_since(text: str, now: datetime) -> datetime:
    """``30d``, ``12h``, ``45m``, ``2w`` before ``now``, or an ISO 8601 instant with its zone."""
    if match := DURATION.fullmatch(text.strip()):
        return now - timedelta(**{UNITS[match[2]]: int(match[1])})
    try:
        at = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(
            f"{text!r} is neither a duration (30d, 12h, 45m, 2w) nor an ISO 8601 instant"
        ) from None
    if at.tzinfo is None:
        raise ValueError(f"{text!r} has no zone (add Z or +02:00, say)")
    return at


def _count(lowest: int, highest: int | None) -> Callable[[str], int]:
    def parse(text: str) -> int:
        if not text.strip().isdigit():
            raise ValueError(f"{text!r} is not a whole number")
        n = int(text)
        if n < lowest or (highest is not None and n > highest):
            bound = f"from {lowest} to {highest}" if highest is not None else f">= {lowest}"
            raise ValueError(f"{n} is out of range ({bound})")
        return n

    return parse


def _text(what: str) -> Callable[[str], str]:
    def parse(text: str) -> str:
        if not text.strip() or len(text) > 320:
            raise ValueError(f"{what} must be 1 to 320 characters")
        if any(ord(c) < 32 for c in text):
            raise ValueError(f"{what} must be text without control characters")
        return text.strip()

    return parse


def _rep(text: str) -> str:
    if "@" not in text or len(text) > 320 or any(ord(c) < 32 for c in text):
        raise ValueError(f"{text!r} is not an email")
    return text.strip()


def _outcome(text: str) -> str:
    if text not in OUTCOMES:
        raise ValueError(f"{text!r} is not an outcome (one of {', '.join(OUTCOMES)})")
    return text


def parse_search(raw: Mapping[str, str | None], now: datetime) -> DecisionSearch:
    """The search the parameters ask for (query strings, CLI options): ``InvalidSearch``
    names every bad one."""
    parsers: dict[str, Callable[[str], Any]] = {
        "record": lambda t: str(RecordKey.parse(t.strip())),
        "rep": _rep,
        "rule": _text("a routing rule's name"),
        "outcome": _outcome,
        "pool": _text("a pool's name"),
        "since": lambda t: parse_since(t, now),
        "limit": _count(1, MAX_LIMIT),
        "before": _count(1, None),
    }
    values: dict[str, Any] = {}
    errors: list[str] = []
    for name, parse in parsers.items():
        text = raw.get(name)
        if text is None:
            continue
        try:
            values[name] = parse(text)
        except ValueError as exc:
            errors.append(f"{name}: {exc}")
    if errors:
        raise InvalidSearch(errors)
    return DecisionSearch(**values)


class DecisionRow(BaseModel):
    id: int
    record: str
    outcome: str
    rep: str | None
    pool: str | None
    rule: str | None  # the routing rule's name; None: no rule chose the pool
    reason: str  # the decision in one sentence
    score: int | None
    decided_at: datetime


class DecisionPage(BaseModel):
    decisions: list[DecisionRow]
    next: int | None  # pass as ``before`` for the next page; None: this is the last


def row_of(d: Decision) -> DecisionRow:
    return DecisionRow(
        id=d.id or 0, record=d.record_key, outcome=d.outcome, rep=d.owner_email, pool=d.pool,
        rule=d.routing_rule, reason=d.rule, score=d.score, decided_at=d.decided_at,
    )  # fmt: skip


@router.get(
    "/decisions",
    response_model=DecisionPage,
    responses={422: {"description": "a parameter is not valid; detail says which and why"}},
)
async def search_decisions(
    runtime: RuntimeDep,
    record: str | None = None,
    rep: str | None = None,
    rule: str | None = None,
    outcome: str | None = None,
    pool: str | None = None,
    since: str | None = None,
    limit: str | None = None,
    before: str | None = None,
) -> Any:
    """The decisions matching every parameter given, newest first: ``record`` (a record key),
    ``rep`` (email, any case), ``rule`` (the routing rule's name), ``outcome``, ``pool``,
    ``since`` (``30d``, ``12h`` or an ISO 8601 instant with zone), ``limit`` (50, at most
    500); ``before``: the ``next`` of the previous page."""
    raw = {"record": record, "rep": rep, "rule": rule, "outcome": outcome, "pool": pool}
    raw |= {"since": since, "limit": limit, "before": before}
    try:
        query = parse_search(raw, utcnow())
    except InvalidSearch as exc:
        content = {"detail": str(exc), "errors": exc.errors}
        return JSONResponse(status_code=422, content=content)

    def load() -> DecisionPage:
        with runtime.db.transaction() as session:
            page, cursor = DecisionRepository(session).search(query)
            return DecisionPage(decisions=[row_of(d) for d in page], next=cursor)

    return await run_in_threadpool(load)
