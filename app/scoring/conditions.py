"""Conditions on a lead's canonical fields, typed: which operators apply to a field's type,
whether a rule's value fits it, and whether a lead meets the condition. Pure. Values read as
their type (``app/mappings/typed.py``). Used by scoring (and qualification to come)."""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from typing import Any

from app.mappings.fields import OPERATORS, FieldType
from app.mappings.typed import read

NO_VALUE = ("exists", "missing")
ORDER: dict[str, Callable[[Any, Any], Any]] = {
    "gt": operator.gt,
    "gte": operator.ge,
    "lt": operator.lt,
    "lte": operator.le,
}


def problem(kind: FieldType, op: str, value: object) -> str | None:
    """Why a rule cannot work on a field of this type, or None."""
    if op not in OPERATORS[kind]:
        return f"{op} does not apply to a {kind} field (use {', '.join(OPERATORS[kind])})"
    if op in NO_VALUE:
        return None if value is None else f"{op} takes no value"
    if value is None:
        return f"{op} needs a value"
    if isinstance(value, list) and op != "in":
        return f"{op} takes one value, not a list (use in for several)"
    values = value if isinstance(value, list) else [value]
    # A list field's values, and a text field's, are any text.
    target: FieldType = "text" if kind == "list" else kind
    bad = [v for v in values if read(target, v) is None]
    if bad:
        return f"{bad[0]!r} is not a {kind} value"
    return None


def holds(kind: FieldType, op: str, expected: object, raw: str | None) -> bool:
    """Whether the lead's value ``raw`` meets the condition (``op``, ``expected``)."""
    value = read(kind, raw)
    if op == "exists":
        return value is not None
    if op == "missing":
        return value is None
    if value is None:
        return False
    options: Sequence[object] = expected if isinstance(expected, list) else [expected]
    if kind == "list":
        wanted = {read("text", o) for o in options}
        return bool(wanted & set(value))  # contains one value, or in: any of them
    wanted_values = [read(kind, o) for o in options]
    if op == "in":
        return value in wanted_values
    if op == "eq":
        return bool(value == wanted_values[0])
    if op == "ne":
        return bool(value != wanted_values[0])
    if op == "contains":
        return str(wanted_values[0]) in str(value)
    target = wanted_values[0]
    if target is None:
        return False
    return bool(ORDER[op](value, target))
