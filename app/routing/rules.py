"""Which routing rule takes a lead: the first, in routing.yaml's order, whose conditions all
hold. Pure: the lead's canonical fields and its evaluation in, the rule out, with the rules
before it that did not match and why (the first condition of each that did not hold, and the
value it saw), for the decision's explanation.

A rule reads the lead's fields (built in or declared in fields.yaml) and three pseudo-fields
from the evaluation: ``score`` (a number), ``grade`` (A-D) and ``temperature`` (hot, warm,
cold). A pseudo-field hides a lead field of the same name.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from app.mappings.fields import FieldType
from app.mappings.schemas import PSEUDO_FIELDS, Condition, RoutingRule, Target
from app.scoring.conditions import leaves, met

Lead = Mapping[str, str | None]


class NoRuleMatched(LookupError):
    """No rule took the lead: the rules do not end with a default (the loader refuses that)."""


@dataclass(frozen=True)
class Evaluation:
    """What the evaluate stage said of the lead, as rules read it (None: not known)."""

    score: float | None = None
    grade: str | None = None  # A, B, C or D
    temperature: str | None = None  # hot, warm or cold


class Skipped(NamedTuple):
    """A rule before the one that matched: the first of its conditions that did not hold (a
    test on a field, or the group that failed as a whole) and the value it saw there."""

    rule: str
    condition: Condition
    seen: str | None


@dataclass(frozen=True)
class Matched:
    index: int  # the rule's position in routing.yaml's rules
    rule: RoutingRule
    target: Target
    skipped: tuple[Skipped, ...]  # the rules before it, in order


def match(
    rules: Sequence[RoutingRule],
    lead_fields: Lead,
    evaluation: Evaluation,
    types: Mapping[str, FieldType],
) -> Matched:
    """The first rule whose conditions all hold for the lead (a rule without ``when``: every
    lead), with each rule before it and why it did not match."""
    fields = readable(lead_fields, evaluation)
    all_types = {**types, **PSEUDO_FIELDS}
    skipped: list[Skipped] = []
    for index, rule in enumerate(rules):
        failed = next((c for c in rule.when or [] if not met(c, fields, all_types)), None)
        if failed is None:
            return Matched(index, rule, rule.target, tuple(skipped))
        condition, seen = why_not(failed, fields, all_types)
        skipped.append(Skipped(rule.name, condition, seen))
    raise NoRuleMatched("no routing rule took the lead (the rules end with a default)")


def readable(lead_fields: Lead, evaluation: Evaluation) -> dict[str, str | None]:
    """The lead's fields with the evaluation's pseudo-fields, as text (read by their type)."""
    score = evaluation.score
    if isinstance(score, float) and score.is_integer():
        score = int(score)
    return {
        **lead_fields,
        "score": None if score is None else str(score),
        "grade": evaluation.grade,
        "temperature": evaluation.temperature,
    }


def why_not(
    condition: Condition, fields: Lead, types: Mapping[str, FieldType]
) -> tuple[Condition, str | None]:
    """The test that made ``condition`` fail, and the value it saw: inside an ``all`` group,
    its first member that failed; an ``any`` or ``not`` group fails as a whole (it shows the
    value of its first field the lead has)."""
    if condition.all_ is not None:
        failed = next(c for c in condition.all_ if not met(c, fields, types))
        return why_not(failed, fields, types)
    if condition.field is not None:
        return condition, fields.get(condition.field)
    values = [fields.get(leaf.field or "") for _, leaf in leaves(condition)]
    return condition, next((v for v in values if v is not None), None)
