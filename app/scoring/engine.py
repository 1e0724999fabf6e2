"""Pure scoring: no database, no HTTP. The same input always gives the same score and reasons."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from app.mappings.fields import BUILTIN_TYPES, FieldType
from app.mappings.schemas import ScoreFields, ScoreWrite, Scoring, ScoringRule, for_object
from app.scoring import conditions
from connectors.crm import RecordKey

Lead = Mapping[str, str | None]  # canonical field name -> value as read (LeadField or declared)
Types = Mapping[str, FieldType]


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


BREAKDOWN_CHARS = 255  # a Salesforce text field's default length; HubSpot takes more


def breakdown(result: ScoreResult) -> str:
    """The score in one line a rep can read: '215: HR director +60, 250 employees +40; -10
    inactive' (points won, then points lost), cut to fit a CRM text field."""
    won = [f"{c.rule} {c.points:+d}" for c in result.contributions if c.points >= 0]
    lost = [f"{c.points:+d} {c.rule}" for c in result.contributions if c.points < 0]
    line = f"{result.total}: {', '.join(won) or 'no points'}"
    if lost:
        line += f"; {', '.join(lost)}"
    return line if len(line) <= BREAKDOWN_CHARS else line[: BREAKDOWN_CHARS - 1] + "…"


def score_fields(
    write: ScoreWrite | None, result: ScoreResult, key: RecordKey
) -> dict[str, str | None]:
    """The CRM fields of ``key`` that show the score, and their values (scoring.yaml write)."""
    target = for_object(write, key.crm, key.sobject) if write is not None else None
    if not isinstance(target, ScoreFields):
        return {}
    values = {
        target.score: str(result.total),
        target.temperature: result.temperature,
        target.breakdown: breakdown(result),
    }
    return {name: value for name, value in values.items() if name}


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


def matches(rule: ScoringRule, lead: Lead, types: Types = BUILTIN_TYPES) -> bool:
    """Whether the rule's condition holds for the lead, read as its field's type."""
    kind = types.get(rule.field, "text")
    return conditions.holds(kind, rule.op, rule.value, lead.get(rule.field))


def score(lead: Lead, model: Scoring, types: Types = BUILTIN_TYPES) -> ScoreResult:
    """``types``: each canonical field's type (``Mappings.field_types()``: built-in and
    declared fields)."""
    contributions = tuple(
        Contribution(rule.name, rule.points) for rule in model.rules if matches(rule, lead, types)
    )
    total = sum(c.points for c in contributions)
    return ScoreResult(total, contributions, total >= model.threshold, temperature(total, model))
