"""Conditions and the scoring model compiled once per model: the same answers as
``conditions.met`` (the reference), for less work per lead.

A lead's fields are read as their types once per lead, into one slot per (field, type) the
model reads (a title tested by ten rules is read once); each condition is a closure over its
slot and its own values, read, set up and its regular expression compiled beforehand. The
compiled model is cached by the model's identity with the types it was compiled for: a
``Scoring`` is immutable (a frozen model, one per mappings version), and the cache forgets it
when it is garbage collected.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from app.mappings.fields import FieldType
from app.mappings.schemas import Condition, ScoreGroup, Scoring, ScoringRule
from app.mappings.typed import read
from app.scoring.conditions import ORDER, SEVERAL, holds_read, leaves
from app.scoring.patterns import Pattern

Lead = Mapping[str, str | None]
Types = Mapping[str, FieldType]
Values = Sequence[Any]  # a lead's fields read as their types, by slot
Test = Callable[[Values], bool]


class Slots:
    """The (field, type) pairs a model reads, each with its index in a lead's values."""

    def __init__(self) -> None:
        self.readers: dict[tuple[str, FieldType], int] = {}

    def of(self, field: str, kind: FieldType) -> int:
        return self.readers.setdefault((field, kind), len(self.readers))

    def read(self, lead: Lead) -> list[Any]:
        return [read(kind, lead.get(field)) for field, kind in self.readers]


def _always(_: Values) -> bool:
    return True


def _never(_: Values) -> bool:
    return False


def condition(c: Condition, types: Types, slots: Slots) -> Test:
    """``c`` as a test of a lead's values (``slots.read``), in the order ``conditions.met``
    looks at its shapes."""
    field, op = c.field, c.op
    if field is not None and op is not None:
        kind = types.get(field, "text")
        expected = c.pattern if op == "matches" else c.value
        return _leaf(kind, op, expected, slots.of(field, kind))
    if c.all_ is not None:
        every = tuple(condition(member, types, slots) for member in c.all_)
        return lambda v: all(t(v) for t in every)
    if c.any_ is not None:
        some = tuple(condition(member, types, slots) for member in c.any_)
        return lambda v: any(t(v) for t in some)
    if c.not_ is not None:
        inner = condition(c.not_, types, slots)
        return lambda v: not inner(v)
    return _always


def _leaf(kind: FieldType, op: str, expected: object, i: int) -> Test:
    if op == "exists":
        return lambda v: v[i] is not None
    if op == "missing":
        return lambda v: v[i] is None
    if op == "matches":
        return _matches(kind, expected, i)
    if op == "starts_with":
        if kind in ("text", "list") and not isinstance(expected, list):
            return _starts_with(kind, str(read("text", expected)), i)
        return _reference(kind, op, expected, i)  # a shape the loader refuses
    if kind == "list":
        return _in_list(op, expected, i)
    if op in SEVERAL:
        options = expected if isinstance(expected, list) else [expected]
        # None is never a lead's value here (an empty value meets no test): left out, ``in``
        # on the set answers as the reference's list does
        wanted = frozenset(w for o in options if (w := read(kind, o)) is not None)
        if op == "in":
            return lambda v: v[i] in wanted
        return lambda v: (x := v[i]) is not None and x not in wanted
    if isinstance(expected, list):  # between, or a shape the loader refuses: the reference
        return _between(kind, expected, i) if op == "between" else _reference(kind, op, expected, i)
    return _one_value(kind, op, read(kind, expected), i)


def _one_value(kind: FieldType, op: str, target: Any, i: int) -> Test:
    if op == "eq":
        return lambda v: (x := v[i]) is not None and bool(x == target)
    if op == "ne":
        return lambda v: (x := v[i]) is not None and bool(x != target)
    if op == "contains":
        part = str(target)
        if kind == "text":  # read as text: already a str
            return lambda v: (x := v[i]) is not None and part in x
        return lambda v: (x := v[i]) is not None and part in str(x)
    if op in ORDER:
        if target is None:
            return _never
        compare = ORDER[op]
        return lambda v: (x := v[i]) is not None and bool(compare(x, target))
    return _reference(kind, op, target, i)


def _between(kind: FieldType, expected: list[object], i: int) -> Test:
    if len(expected) != 2:
        return _reference(kind, "between", expected, i)
    low, high = read(kind, expected[0]), read(kind, expected[1])
    if low is None or high is None:
        return _never
    return lambda v: (x := v[i]) is not None and bool(low <= x <= high)


def _matches(kind: FieldType, pattern: object, i: int) -> Test:
    if not isinstance(pattern, Pattern):  # not compiled at load (not text): the reference
        return _reference(kind, "matches", pattern, i)
    search = pattern.search
    if kind == "list":
        return lambda v: (x := v[i]) is not None and any(search(s) for s in x)
    return lambda v: (x := v[i]) is not None and search(str(x))


def _starts_with(kind: FieldType, prefix: str, i: int) -> Test:
    if kind == "list":  # one of the multi-select's values starts with it
        return lambda v: (x := v[i]) is not None and any(s.startswith(prefix) for s in x)
    return lambda v: (x := v[i]) is not None and str(x).startswith(prefix)


def _in_list(op: str, expected: object, i: int) -> Test:
    """A multi-select (values read as a tuple): contains one value, or in: any of them."""
    options = expected if isinstance(expected, list) else [expected]
    wanted = frozenset(read("text", o) for o in options)
    if op == "not_in":
        return lambda v: (x := v[i]) is not None and wanted.isdisjoint(x)
    return lambda v: (x := v[i]) is not None and not wanted.isdisjoint(x)


def _reference(kind: FieldType, op: str, expected: object, i: int) -> Test:
    return lambda v: holds_read(kind, op, expected, v[i])


# -- the scoring model --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Rule:
    name: str
    points: int
    test: Test
    per: str | None  # the counted field (its raw value shows), or None
    per_slot: int  # with per: the slot of the counted field read as a number
    max: int | None
    shown: Callable[[Lead, Values], str | None]  # the value shown when a rule without per fired


@dataclass(frozen=True, slots=True)
class Group:
    name: ScoreGroup
    rules: tuple[Rule, ...]
    cap: int | None  # scoring.yaml caps


@dataclass(frozen=True, slots=True)
class Decay:
    field: str
    slot: int  # the field read as its type (a datetime when undeclared)
    points_per_month: int
    floor: int | None


@dataclass(frozen=True, slots=True)
class Model:
    slots: Slots
    groups: tuple[Group, ...]
    decay: Decay | None
    revealing: tuple[tuple[str, Test], ...]


def _rule(rule: ScoringRule, types: Types, slots: Slots) -> Rule:
    per_slot = slots.of(rule.per, "number") if rule.per is not None else -1
    return Rule(
        rule.name,
        rule.points,
        condition(rule, types, slots),
        rule.per,
        per_slot,
        rule.max,
        _shown(rule, types, slots),
    )


def _shown(rule: Condition, types: Types, slots: Slots) -> Callable[[Lead, Values], str | None]:
    """The lead's value a rule fired on: its field's or, in a group, the first field's whose
    own test holds (one whose test fails under a not: its value)."""
    if rule.field is not None:  # a test on one field (most rules): it held, its value shows
        field = rule.field
        return lambda lead, _: lead.get(field)
    tests = [(condition(leaf, types, slots), leaf.field or "") for _, leaf in leaves(rule)]

    def shown(lead: Lead, v: Values) -> str | None:
        values = [(t(v), value) for t, f in tests if (value := lead.get(f)) is not None]
        return next((x for held, x in values if held), values[0][1] if values else None)

    return shown


def compile_model(model: Scoring, types: Types) -> Model:
    slots = Slots()
    groups = tuple(
        Group(
            group,
            tuple(_rule(r, types, slots) for r in rules),
            getattr(model.caps, group) if model.caps is not None else None,
        )
        for group, _, rules in model.groups()
    )
    d = model.decay
    decay = None
    if d is not None:
        slot = slots.of(d.field, types.get(d.field, "datetime"))
        decay = Decay(d.field, slot, d.points_per_month, d.floor)
    revealing = tuple((a.name, condition(a, types, slots)) for a in model.revealing)
    return Model(slots, groups, decay, revealing)


_COMPILED: dict[int, tuple[weakref.ref[Scoring], dict[str, FieldType], Model]] = {}


def compiled(model: Scoring, types: Types) -> Model:
    """``model`` compiled for ``types``, once per model (and types)."""
    key = id(model)
    entry = _COMPILED.get(key)
    # The types are compared by value: a caller may pass an equal mapping each time.
    if entry is not None and entry[0]() is model and entry[1] == types:
        return entry[2]
    built = compile_model(model, types)
    ref = weakref.ref(model, lambda _: _COMPILED.pop(key, None))
    _COMPILED[key] = (ref, dict(types), built)
    return built
