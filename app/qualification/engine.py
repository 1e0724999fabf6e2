"""The qualification stage: whether a scored lead goes to sales. Pure: no database, no HTTP.

In order, the first rule of ``qualification.yaml`` whose conditions all hold decides the
outcome; a lead no rule takes is ``ready`` when its score reaches the threshold, else
``nurture``. Only ``ready`` leads are routed. Without ``qualification.yaml`` every lead is
ready (routed whatever its score), as before qualification existed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from app.mappings.fields import BUILTIN_TYPES, FieldType
from app.mappings.schemas import Qualification, QualificationOutcome, for_object
from app.scoring import conditions
from app.scoring.engine import Lead, ScoreResult
from connectors.crm import RecordKey

READY: QualificationOutcome = "ready"


@dataclass(frozen=True)
class Qualified:
    outcome: QualificationOutcome
    reason: str  # the rule's name, or why no rule applied
    rule: int | None = None  # the index of the rule that decided, in qualification.yaml

    @property
    def ready(self) -> bool:
        return self.outcome == READY

    def snapshot(self) -> dict[str, Any]:
        return {"outcome": self.outcome, "reason": self.reason, "rule": self.rule}


def qualify(
    lead: Lead,
    score: ScoreResult,
    model: Qualification | None,
    types: Mapping[str, FieldType] = BUILTIN_TYPES,
) -> Qualified:
    if model is None:
        return Qualified(READY, "no qualification.yaml: every lead is routed")
    for i, rule in enumerate(model.rules):
        if all(conditions.met(c, lead, types) for c in rule.when):
            return Qualified(rule.outcome, rule.name, i)
    if score.revealing is not None:  # a quote or demo request: ready whatever the score
        return Qualified(READY, f"revealing act: {score.revealing}")
    if score.sales_ready:
        return Qualified(READY, f"score {score.total} reached the threshold")
    return Qualified("nurture", f"score {score.total} is below the threshold")


REASON_CHARS = 255  # a Salesforce text field's default length


def write_back(
    model: Qualification | None, qualified: Qualified, key: RecordKey
) -> dict[str, str | None]:
    """The values ``qualification.yaml`` has this outcome write to this record, with its
    reason in words where ``reason`` names a field for this record's object."""
    if model is None:
        return {}
    out: dict[str, str | None] = {}
    if qualified.outcome in model.outcomes:
        values = for_object(model.outcomes[qualified.outcome], key.crm, key.sobject)
        out = dict(values) if isinstance(values, dict) else {}
    field = for_object(model.reason, key.crm, key.sobject) if model.reason else None
    if isinstance(field, str) and field:
        text = f"{qualified.outcome}: {qualified.reason}"
        out[field] = text if len(text) <= REASON_CHARS else text[: REASON_CHARS - 1] + "…"
    return out
