"""Conditions on a lead's canonical fields, typed: which operators apply to a field's type,
whether a rule's value fits it, and whether a lead meets the condition. Pure. Values read as
their type (``app/mappings/typed.py``). Used by scoring and qualification.

A condition is a test on one field (``field``, ``op``, ``value``) or a group in its place:
``all`` (every one holds), ``any`` (one holds), ``not`` (it does not hold)."""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from app.mappings.fields import OPERATORS, FieldType
from app.mappings.schemas import Condition
from app.mappings.typed import read
from app.scoring.patterns import Pattern, compile_pattern

NO_VALUE = ("exists", "missing")
SEVERAL = ("in", "not_in")  # take a list (or one value)
ORDER: dict[str, Callable[[Any, Any], Any]] = {
    "gt": operator.gt,
    "gte": operator.ge,
    "lt": operator.lt,
    "lte": operator.le,
}
Path = tuple[str | int, ...]
# The operators each type takes: fields.py's, with starts_with wherever contains applies (text,
# a list's values). Added with the routing rules; its place is fields.py's OPERATORS.
APPLIES: dict[FieldType, tuple[str, ...]] = {
    kind: tuple(o for op in ops for o in ((op, "starts_with") if op == "contains" else (op,)))
    for kind, ops in OPERATORS.items()
}


def problem(kind: FieldType, op: str, value: object) -> str | None:
    """Why a rule cannot work on a field of this type, or None."""
    if op not in APPLIES[kind]:
        return f"{op} does not apply to a {kind} field (use {', '.join(APPLIES[kind])})"
    if op in NO_VALUE:
        return None if value is None else f"{op} takes no value"
    if value is None:
        return f"{op} needs a value"
    if op == "between":
        return _between_problem(kind, value)
    if isinstance(value, list) and op not in SEVERAL:
        return f"{op} takes one value, not a list (use in for several)"
    if op == "matches":
        # compiled when the file loads (``Condition``): here only its kind
        return None if isinstance(value, str) else "matches takes a regular expression (text)"
    values = value if isinstance(value, list) else [value]
    # A list field's values, and a text field's, are any text.
    target: FieldType = "text" if kind == "list" else kind
    bad = [v for v in values if read(target, v) is None]
    if bad:
        return f"{bad[0]!r} is not a {kind} value"
    return None


def _between_problem(kind: FieldType, value: object) -> str | None:
    if not isinstance(value, list) or len(value) != 2:
        return "between takes two values, [low, high]"
    low, high = read(kind, value[0]), read(kind, value[1])
    bad = [v for v, r in zip(value, (low, high), strict=True) if r is None]
    if bad:
        return f"{bad[0]!r} is not a {kind} value"
    if low > high:
        return f"between takes the low value first: {value[0]!r} is above {value[1]!r}"
    return None


def holds(kind: FieldType, op: str, expected: object, raw: str | None) -> bool:
    """Whether the lead's value ``raw`` meets the condition (``op``, ``expected``)."""
    return holds_read(kind, op, expected, read(kind, raw))


def holds_read(kind: FieldType, op: str, expected: object, value: Any) -> bool:
    """``holds`` on the lead's value already read as ``kind``: the reference the compiled
    conditions (``app/scoring/compiled.py``) answer as."""
    if op == "exists":
        return value is not None
    if op == "missing":
        return value is None
    if value is None:
        return False
    options: Sequence[object] = expected if isinstance(expected, list) else [expected]
    if kind == "list":
        if op == "matches":
            return any(_search(expected, v) for v in value)
        if op == "starts_with":
            prefix = str(read("text", options[0]))
            return any(v.startswith(prefix) for v in value)
        wanted = {read("text", o) for o in options}
        found = bool(wanted & set(value))  # contains one value, or in: any of them
        return not found if op == "not_in" else found
    if op == "matches":
        return _search(expected, value)
    wanted_values = [read(kind, o) for o in options]
    if op == "in":
        return value in wanted_values
    if op == "not_in":
        return value not in wanted_values
    if op == "between":
        low, high = wanted_values
        return low is not None and high is not None and bool(low <= value <= high)
    if op == "eq":
        return bool(value == wanted_values[0])
    if op == "ne":
        return bool(value != wanted_values[0])
    if op == "contains":
        return str(wanted_values[0]) in str(value)
    if op == "starts_with":
        return str(value).startswith(str(wanted_values[0]))
    target = wanted_values[0]
    if target is None:
        return False
    return bool(ORDER[op](value, target))


def _search(pattern: object, value: object) -> bool:
    # Values are read case-folded; the pattern (compiled at load) ignores case. A condition
    # built in code without one is compiled here.
    compiled = pattern if isinstance(pattern, Pattern) else compile_pattern(str(pattern))
    return compiled.search(str(value))


def met(
    condition: Condition, lead: Mapping[str, str | None], types: Mapping[str, FieldType]
) -> bool:
    """Whether the lead meets the condition or condition group. A condition with no test at
    all (a counted scoring rule) holds."""
    field, op = condition.field, condition.op
    if field is not None and op is not None:  # a test on one field: most conditions
        # The compiled pattern only for matches: reading a private attribute costs.
        expected = condition.pattern if op == "matches" else condition.value
        return holds(types.get(field, "text"), op, expected, lead.get(field))
    if condition.all_ is not None:
        return all(met(c, lead, types) for c in condition.all_)
    if condition.any_ is not None:
        return any(met(c, lead, types) for c in condition.any_)
    if condition.not_ is not None:
        return not met(condition.not_, lead, types)
    return True


def leaves(condition: Condition, path: Path = ()) -> Iterator[tuple[Path, Condition]]:
    """Each test on a field inside ``condition`` with its key path (for errors)."""
    groups = (("all", condition.all_), ("any", condition.any_))
    for key, members in groups:
        for i, member in enumerate(members or []):
            yield from leaves(member, (*path, key, i))
    if condition.not_ is not None:
        yield from leaves(condition.not_, (*path, "not"))
    if condition.field is not None:
        yield path, condition
