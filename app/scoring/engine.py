"""Pure scoring: no database, no HTTP, no clock (``now`` is an argument). The same input
always gives the same score and reasons.

Each group (fit, engagement, negative) adds the points of its rules that hold, up to its cap;
the decay takes points per whole month since the last activity, down to its floor; the total is
capped by ``max_total``. A cap shows in the breakdown as its own line, so the lines always add
up to the total. Whatever the model, a counted rule counts at most ``MAX_OCCURRENCES`` and the
total stays within ``TOTAL_LIMIT`` either way (a 32-bit integer column stores it). A revealing
act makes the lead sales-ready whatever its score."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from app.mappings.fields import BUILTIN_TYPES, FieldType
from app.mappings.schemas import (
    ScoreFields,
    ScoreWrite,
    Scoring,
    ScoringRule,
    for_object,
)
from app.scoring import compiled, conditions
from connectors.crm import RecordKey

Lead = Mapping[str, str | None]  # canonical field name -> value as read (LeadField or declared)
Types = Mapping[str, FieldType]


@dataclass(frozen=True)
class Contribution:
    rule: str  # the rule's name (the decisions store it with the points)
    points: int
    group: str = "fit"  # fit, engagement, negative; decay; total (max_total)
    value: str | None = None  # the lead's value that triggered the rule, as read


@dataclass(frozen=True)
class ScoreResult:
    total: int
    contributions: tuple[Contribution, ...]
    sales_ready: bool
    temperature: str | None = None  # hot | warm | cold from scoring.yaml's bands; None: below
    grade: str | None = None  # A-D on the fit group's points (scoring.yaml grades)
    level: int | None = None  # 1-3 on the engagement group's points (scoring.yaml levels)
    revealing: str | None = None  # the revealing act that made the lead sales-ready, if any


MAX_OCCURRENCES = 1_000_000  # what a counted rule counts at most ("1e300" page views: this)
TOTAL_LIMIT = 1_000_000_000  # the score's bound either way, well within a 32-bit integer
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
    """Whether the rule's condition (or condition group) holds for the lead, read as its
    fields' types."""
    return conditions.met(rule, lead, types)


def _fired(
    rule: compiled.Rule, group: str, lead: Lead, values: compiled.Values
) -> Contribution | None:
    """The points of a rule whose test held for this lead, with the value that triggered
    them, or None (a counted rule with nothing counted)."""
    if rule.per is None:
        return Contribution(rule.name, rule.points, group, rule.shown(lead, values))
    count = values[rule.per_slot]  # the counted field read as a number
    occurrences = int(min(count, MAX_OCCURRENCES)) if count is not None and count > 0 else 0
    if occurrences == 0:
        return None
    points = rule.points * occurrences
    if rule.max is not None and abs(points) > rule.max:
        points = rule.max if points > 0 else -rule.max
    return Contribution(f"{rule.name} x{occurrences}", points, group, lead.get(rule.per))


def _capped(group: str, points: int, cap: int | None) -> Contribution | None:
    """The points that bring a group back to its cap (scoring.yaml caps), or None."""
    if cap is None:
        return None
    if group == "negative" and points < -cap:
        return Contribution(f"{group} capped at -{cap}", -cap - points, group)
    if group != "negative" and points > cap:
        return Contribution(f"{group} capped at {cap}", cap - points, group)
    return None


def months_between(since: datetime, now: datetime) -> int:
    """Whole months from ``since`` to ``now`` (0 when ``since`` is later)."""
    months = (now.year - since.year) * 12 + now.month - since.month
    if (now.day, now.time()) < (since.day, since.time()):
        months -= 1
    return max(months, 0)


def _decay(
    decay: compiled.Decay | None, lead: Lead, values: compiled.Values, now: datetime
) -> Contribution | None:
    """Points lost per whole month since the lead's last activity (none without a date)."""
    if decay is None:
        return None
    since = values[decay.slot]
    if not isinstance(since, datetime):
        return None
    months = months_between(since, now.astimezone(UTC))
    points = months * decay.points_per_month
    if decay.floor is not None:
        points = max(points, decay.floor)
    if points == 0:
        return None
    return Contribution(f"no activity for {months} months", points, "decay", lead.get(decay.field))


def _above(points: int, floors: Sequence[tuple[str, int]], below: str) -> str:
    return next((name for name, floor in floors if points >= floor), below)


def score(
    lead: Lead, model: Scoring, types: Types = BUILTIN_TYPES, now: datetime | None = None
) -> ScoreResult:
    """``types``: each canonical field's type (``Mappings.field_types()``: built-in and
    declared fields). ``now``: the instant the decay counts to (None: no decay, for callers
    that have no clock of their own). The model is compiled once (``compiled.compiled``)."""
    c = compiled.compiled(model, types)
    values = c.slots.read(lead)  # each field the model reads, read as its type once
    contributions: list[Contribution] = []
    points: dict[str, int] = {}
    for group in c.groups:
        name = group.name
        fired = [
            x
            for rule in group.rules
            if rule.test(values) and (x := _fired(rule, name, lead, values)) is not None
        ]
        subtotal = sum(x.points for x in fired)
        if (cap := _capped(name, subtotal, group.cap)) is not None:
            fired.append(cap)
            subtotal += cap.points
        contributions += fired
        points[name] = subtotal
    if now is not None and (decay := _decay(c.decay, lead, values, now)) is not None:
        contributions.append(decay)
    total = sum(x.points for x in contributions)
    high = TOTAL_LIMIT if model.max_total is None else min(model.max_total, TOTAL_LIMIT)
    bound = high if total > high else -TOTAL_LIMIT if total < -TOTAL_LIMIT else None
    if bound is not None:
        contributions.append(Contribution(f"total capped at {bound}", bound - total, "total"))
        total = bound
    act = next((name for name, test in c.revealing if test(values)), None)
    return ScoreResult(
        total,
        tuple(contributions),
        total >= model.threshold or act is not None,
        temperature(total, model),
        grade=grade(points["fit"], model),
        level=level(points["engagement"], model),
        revealing=act,
    )


def grade(fit: int, model: Scoring) -> str | None:
    """A, B, C from each grade's fit points up, D below; None without grades."""
    g = model.grades
    return None if g is None else _above(fit, (("A", g.A), ("B", g.B), ("C", g.C)), "D")


def level(engagement: int, model: Scoring) -> int | None:
    """3, 2 from each level's engagement points up, 1 below; None without levels."""
    lv = model.levels
    return None if lv is None else int(_above(engagement, (("3", lv.three), ("2", lv.two)), "1"))
