"""What changed since a lead's last evaluation: the values to write now, and the new row.

Relais writes a value to a CRM only when it differs from the one it wrote before (a rescore
that leaves a lead's score line as it was writes nothing). A value a person changed in the
CRM since is not fought over: it is written again only when Relais's own value changes.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from app.evaluations.models import LeadEvaluation
from connectors.crm import RecordKey

Values = Mapping[RecordKey, Mapping[str, str | None]]
Changed = dict[RecordKey, dict[str, str | None]]


def changed(
    values: Values, before: LeadEvaluation | None
) -> dict[RecordKey, dict[str, str | None]]:
    """The values that differ from what Relais wrote to each record before (all of them for
    a lead never evaluated)."""
    written: Mapping[str, Any] = before.written if before is not None else {}
    out: Changed = {}
    for key, fields in values.items():
        old = written.get(str(key)) or {}
        diff = {f: v for f, v in fields.items() if f not in old or old[f] != v}
        if diff:
            out[key] = diff
    return out


def evaluated(
    key: RecordKey,
    lead: Mapping[str, str | None],
    sides: list[RecordKey],
    score: int,
    outcome: str,
    sent: Values,
    before: LeadEvaluation | None,
    now: datetime,
    mappings_version: str,
) -> LeadEvaluation:
    """The record's new evaluation row: ``sent`` merged into what was written before."""
    written: dict[str, dict[str, Any]] = {
        k: dict(v) for k, v in (before.written if before is not None else {}).items()
    }
    for side, fields in sent.items():
        written.setdefault(str(side), {}).update(fields)
    return LeadEvaluation(
        record_key=str(key),
        lead=dict(lead),
        sides=[str(s) for s in sides],
        score=score,
        outcome=outcome,
        written=written,
        evaluated_at=now,
        mappings_version=mappings_version,
    )
