"""Pure scoring: no database, no HTTP. The same input always gives the same score and reasons."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from app.mappings.fields import LeadField
from app.mappings.schemas import Scoring, ScoringRule

Lead = Mapping[LeadField, str | None]


@dataclass(frozen=True)
class Contribution:
    rule: str
    points: int


@dataclass(frozen=True)
class ScoreResult:
    total: int
    contributions: tuple[Contribution, ...]
    sales_ready: bool
    temperature: str | None = None  # hot | warm | cold from scoring.yaml's bands; None: below


def temperature(total: int, model: Scoring) -> str | None:
    """hot, warm or cold from the bands (each from its own score up); None below cold or
    without bands."""
    bands = model.bands
    if bands is None:
        return None
    for name, floor in (("hot", bands.hot), ("warm", bands.warm), ("cold", bands.cold)):
        if total >= floor:
            return name
    return None


def _number(value: str | float | None) -> float | None:
    if value is None:
        return None
    try:
        return float(str(value).replace(" ", "").replace(",", "."))
    except ValueError:
        return None


def matches(rule: ScoringRule, lead: Lead) -> bool:
    raw = lead.get(rule.field)
    value = raw.strip() if isinstance(raw, str) else None
    if rule.op == "exists":
        return bool(value)
    if rule.op == "missing":
        return not value
    if not value:
        return False
    if rule.op in ("gt", "gte", "lt", "lte"):
        left, right = (
            _number(value),
            _number(rule.value if not isinstance(rule.value, list) else None),
        )
        if left is None or right is None:
            return False
        return {"gt": left > right, "gte": left >= right, "lt": left < right, "lte": left <= right}[
            rule.op
        ]
    folded = value.casefold()
    if rule.op == "in":
        options = rule.value if isinstance(rule.value, list) else [str(rule.value)]
        return folded in {str(o).casefold() for o in options}
    expected = str(rule.value).casefold()
    if rule.op == "eq":
        return folded == expected
    if rule.op == "ne":
        return folded != expected
    return expected in folded  # contains


def score(lead: Lead, model: Scoring) -> ScoreResult:
    contributions = tuple(
        Contribution(rule.name, rule.points) for rule in model.rules if matches(rule, lead)
    )
    total = sum(c.points for c in contributions)
    return ScoreResult(total, contributions, total >= model.threshold, temperature(total, model))
