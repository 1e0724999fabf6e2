"""Load ``mappings/`` into one immutable, versioned snapshot, or say precisely what is wrong:
every error names the file, the line and the key path, what was found and what was expected,
and suggests the closest valid name. All errors of all files are reported at once."""

from __future__ import annotations

import difflib
import hashlib
import json
import os
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal, TypeVar

import structlog
import yaml
from pydantic import BaseModel, ValidationError

from app.mappings.fields import (
    BUILTIN_TYPES,
    FIELD_TYPES,
    HUBSPOT_CONTACT_PROPERTIES,
    SALESFORCE_FIELDS,
    FieldType,
    LeadField,
)
from app.mappings.schemas import (
    PSEUDO_FIELDS,
    PSEUDO_VALUES,
    Condition,
    Enrichment,
    FieldMapping,
    Fields,
    Qualification,
    Rep,
    Routing,
    RoutingRule,
    Scoring,
    Sync,
    Target,
    Team,
    Values,
    WriteTarget,
)
from app.scoring.conditions import leaves
from app.scoring.conditions import problem as rule_problem
from connectors.crm import Crm

REQUIRED: dict[str, type[BaseModel]] = {
    "team.yaml": Team,
    "routing.yaml": Routing,
    "scoring.yaml": Scoring,
}
OPTIONAL: dict[str, type[BaseModel]] = {
    "fields.yaml": Fields,
    "values.yaml": Values,
    "sync.yaml": Sync,
    "qualification.yaml": Qualification,
    "enrichment.yaml": Enrichment,
}
FILES = {**REQUIRED, **OPTIONAL}
# Limits on what an admin's file may ask of the loader and of every lead scored against it
# (docs/mappings.md, "Limits"): beyond them a file is refused before it is parsed or used.
MAX_FILE_BYTES = 256 * 1024  # the shipped files are under 5 KiB
MAX_RULES = 1_000  # scoring rules and revealing acts, or qualification rules, in one file
MAX_YAML_DEPTH = 48  # mappings and lists nested in one file (deeper: refused before composing)
MAX_CONDITION_DEPTH = 16  # all, any and not nested in one condition
# The types a condition's value may be (pydantic names each in an error's path).
VALUE_MEMBERS = {"bool", "float", "str", "list[union[str,float]]"}
# What the assignment engine (issue 10) acts on among routing.yaml's newer keys and values.
# Until it does, ``relais mappings check`` refuses each with "not supported yet (issue 10)"
# (no setting without effect): add a name here in the change that makes it take effect.
#   weighted also turns on the refusal of a weight (a rep whose weight is not 1) in a
#   round-robin pool: until weighted pools exist, an admin has nowhere else to put one.
EngineFeature = Literal[
    "rules", "weighted", "least_loaded", "members_from_segment", "account_owner_first", "hold",
    "queue",
]  # fmt: skip
ENGINE_SUPPORTS: frozenset[EngineFeature] = frozenset(
    {"rules", "weighted", "members_from_segment", "hold"}
)
NOT_SUPPORTED: dict[EngineFeature, str] = {  # what an admin does meanwhile
    "rules": "every lead goes to default_pool until then",
    "weighted": "use type: round_robin until then",
    "least_loaded": "use type: round_robin until then",
    "members_from_segment": "list the pool's members until then",
    "account_owner_first": "the company's owner is not looked up yet: remove the key",
    "hold": "use when_nobody: fallback until then",
    "queue": "send to a pool or a rep until then",
}
NOT_YET = "not supported yet (issue 10)"
KNOWN_FIELD = "a built-in field, or one declared in fields.yaml with its type"
ROUTING_FIELD = (
    "nobody feeds it: a rule reads a built-in field, one declared in fields.yaml with its "
    "type, or score, grade, temperature"
)
M = TypeVar("M", bound=BaseModel)
log = structlog.get_logger("relais.mappings")
Path_ = tuple[str | int, ...]


class MappingsError(Exception):
    """The mappings do not validate; ``errors`` lists every problem found."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("\n".join(errors))
        self.errors = errors


@dataclass(frozen=True)
class Mappings:
    team: Team
    routing: Routing
    scoring: Scoring
    fields: Fields | None
    values: Values
    sync: Sync
    qualification: Qualification | None  # None: no qualification.yaml, every lead is ready
    version: str  # sha256 of the files' names and bytes: recorded in every decision
    source: str
    files: tuple[str, ...] = field(default=())
    lines: dict[str, dict[Path_, int]] = field(default_factory=dict, compare=False, repr=False)
    enrichment: Enrichment | None = None  # None: no enrichment.yaml, leads as the CRMs hold them

    def where(self, file: str, path: Path_) -> str:
        """'<folder>/<file>:<line>: <key path>' for messages about this version's files."""
        lines = self.lines.get(file, {})
        line = next(
            (lines[path[:cut]] for cut in range(len(path), -1, -1) if path[:cut] in lines), 1
        )
        return f"{self.source}/{file}:{line}: {dotted(path)}"

    def rep(self, email: str) -> Rep | None:
        return next((r for r in self.team.reps if r.email == email), None)

    @cached_property
    def _field_types(self) -> Mapping[str, FieldType]:
        declared = {f.field: f.type for f in (self.fields.fields if self.fields else []) if f.type}
        return MappingProxyType(BUILTIN_TYPES | declared)

    def field_types(self) -> Mapping[str, FieldType]:
        """Every canonical field rules may use -> its type: the built-in ones, and those
        fields.yaml declares. Computed once per mappings version (read for every lead)."""
        return self._field_types

    def field_names(self) -> list[str]:
        return sorted(self.field_types())

    def hubspot_properties(self) -> dict[str, str]:
        """Canonical field -> HubSpot contact property (fields.yaml, else the defaults)."""
        if self.fields is None:
            return dict(HUBSPOT_CONTACT_PROPERTIES)
        return {f.field: f.hubspot for f in self.fields.fields if f.hubspot}

    def value_maps(self) -> dict[str, tuple[dict[str, dict[str, str]], str]]:
        """field -> ({crm: {CRM value casefolded: canonical}}, default) for mapped fields."""
        if self.fields is None:
            return {}
        maps = {v.name: v for v in self.values.value_maps}
        out: dict[str, tuple[dict[str, dict[str, str]], str]] = {}
        for f in self.fields.fields:
            vmap = maps.get(f.value_map or "")
            if vmap is None:
                continue
            by_crm: dict[str, dict[str, str]] = {Crm.HUBSPOT: {}, Crm.SALESFORCE: {}}
            for entry in vmap.values:
                if entry.hubspot:
                    by_crm[Crm.HUBSPOT][entry.hubspot.casefold()] = entry.value
                if entry.salesforce:
                    by_crm[Crm.SALESFORCE][entry.salesforce.casefold()] = entry.value
            out[f.field] = (by_crm, vmap.default)
        return out

    def salesforce_fields(self, sobject: str) -> dict[str, str]:
        if self.fields is None:
            return dict(SALESFORCE_FIELDS.get(sobject, {}))
        attr = "salesforce_lead" if sobject == "Lead" else "salesforce_contact"
        return {f.field: getattr(f, attr) for f in self.fields.fields if getattr(f, attr)}


# -- YAML with line numbers ---------------------------------------------------------------------


class _Loader(yaml.SafeLoader):
    """SafeLoader made strict for admins' files:
    - dates and base-60 numbers stay text (``9:00`` is not 540, ``2026-13-40`` gets a line);
    - a key repeated in one mapping is an error, not "the last one wins";
    - aliases (``*name``) are refused: they can recurse or expand without bound."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()  # type: ignore[no-untyped-call]
            raise yaml.composer.ComposerError(
                None, None, "aliases (*name) are not allowed in mappings files", event.start_mark
            )
        return super().compose_node(parent, index)

    def construct_mapping(self, node: Any, deep: bool = False) -> Any:
        if isinstance(node, yaml.MappingNode):
            seen: set[Any] = set()
            for key_node, _ in node.value:
                key = self.construct_object(key_node, deep=deep)
                if key in seen:
                    raise yaml.constructor.ConstructorError(
                        None,
                        None,
                        f"the key {key!r} appears twice in one mapping",
                        key_node.start_mark,
                    )
                seen.add(key)
        return super().construct_mapping(node, deep=deep)


_PLAIN_TEXT = ("tag:yaml.org,2002:timestamp",)
_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag not in _PLAIN_TEXT]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
# YAML 1.1 reads 9:00 as the base-60 integer 540: keep such values as text.
for _first in "+-0123456789":
    _Loader.yaml_implicit_resolvers.setdefault(_first, []).insert(
        0,
        (
            "tag:yaml.org,2002:str",
            re.compile(r"^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$"),
        ),
    )


def _lines(node: yaml.Node, path: Path_, out: dict[Path_, int]) -> None:
    out.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            sub = (*path, str(key.value))
            out[sub] = key.start_mark.line + 1
            _lines(value, sub, out)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            out[(*path, i)] = item.start_mark.line + 1
            _lines(item, (*path, i), out)


@dataclass
class Parsed:
    name: str
    data: Any
    lines: dict[Path_, int]

    def line(self, path: Path_) -> int:
        """The line of ``path``, or of its closest ancestor present in the file."""
        for cut in range(len(path), -1, -1):
            if path[:cut] in self.lines:
                return self.lines[path[:cut]]
        return 1


def dotted(path: Path_) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def _suggest(word: str, options: list[str]) -> str:
    close = difflib.get_close_matches(word, options, n=1, cutoff=0.5)
    return f", did you mean {close[0]!r}?" if close else ""


def _model_at(model: type[BaseModel], loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The pydantic model that owns the last key of ``loc`` (for unknown-key suggestions)."""
    current: Any = model
    for part in loc[:-1]:
        if isinstance(part, int) or not (
            isinstance(current, type) and issubclass(current, BaseModel)
        ):
            continue
        info = current.model_fields.get(part)
        if info is None:
            return None
        current = _inner_model(info.annotation)
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _inner_model(annotation: Any) -> Any:
    for arg in getattr(annotation, "__args__", ()) or ():
        inner = _inner_model(arg)
        if isinstance(inner, type) and issubclass(inner, BaseModel):
            return inner
    return annotation


EXPECTED = {
    "float_parsing": "a number",
    "float_type": "a number",
    "int_parsing": "a whole number",
    "int_type": "a whole number",
    "int_from_float": "a whole number",
    "string_type": "text",
    "bool_parsing": "true or false",
    "bool_type": "true or false",
    "list_type": "a list",
    "dict_type": "a mapping (key: value)",
    "model_type": "a mapping (key: value)",
    "model_attributes_type": "a mapping (key: value)",
    "date_parsing": "a date YYYY-MM-DD",
    "date_from_datetime_parsing": "a date YYYY-MM-DD",
    "date_from_datetime_inexact": "a date YYYY-MM-DD",
    "date_type": "a date YYYY-MM-DD",
    "time_parsing": "a time HH:MM",
    "time_type": "a time HH:MM",
}


def _shown(found: Any) -> str:
    if isinstance(found, str):
        return f'"{found}"'
    if isinstance(found, dict):
        return "a mapping"
    if isinstance(found, list):
        return "a list"
    return repr(found)


def _message(model: type[BaseModel], err: Any) -> str:
    kind, loc, found = err["type"], tuple(err["loc"]), err.get("input")
    ctx = err.get("ctx") or {}
    if kind == "extra_forbidden":
        owner = _model_at(model, loc)
        options = list(owner.model_fields) if owner else []
        return f"unknown key {loc[-1]!r}{_suggest(str(loc[-1]), options)}"
    if kind == "missing":
        return f"missing key {loc[-1]!r}"
    if kind == "union_tag_invalid":
        expected = re.findall(r"'([^']*)'", str(ctx.get("expected_tags", "")))
        tag = str(ctx.get("tag"))
        return (
            f"unknown value {tag!r}{_suggest(tag, expected)} "
            f"(expected one of: {', '.join(expected)})"
        )
    if kind in ("literal_error", "enum"):
        expected = re.findall(r"'([^']*)'", str(ctx.get("expected", "")))
        what = "operator" if loc and loc[-1] == "op" else "value"
        return (
            f"unknown {what} {found!r}{_suggest(str(found), expected)} "
            f"(expected one of: {', '.join(expected)})"
        )
    if kind == "greater_than_equal":
        bound = ctx.get("ge")
        bound = int(bound) if isinstance(bound, float) and bound.is_integer() else bound
        return f"expected a number >= {bound}, found {_shown(found)}"
    if kind == "less_than_equal":
        return f"expected a number <= {ctx.get('le')}, found {_shown(found)}"
    if kind == "too_short":
        return f"expected at least {ctx.get('min_length')} item(s), found {_shown(found)}"
    if kind in EXPECTED:
        return f"expected {EXPECTED[kind]}, found {_shown(found)}"
    msg = str(err["msg"]).removeprefix("Value error, ")
    if found is not None and "found" not in msg and not isinstance(found, dict | list):
        msg = f"{msg}, found {_shown(found)}"
    return msg


def _parse(directory: Path, name: str, raw: bytes, errors: list[str]) -> Parsed | None:
    shown = f"{directory}/{name}"
    try:
        text = raw.decode("utf-8")
        if (deep := _too_deep(text)) is not None:
            errors.append(
                f"{shown}:{deep}: nested more than {MAX_YAML_DEPTH} levels deep (the most a "
                "mappings file may nest)"
            )
            return None
        node = yaml.compose(text, Loader=_Loader)
        data = yaml.load(text, Loader=_Loader)  # noqa: S506 (a SafeLoader subclass)
    except UnicodeDecodeError:
        errors.append(f"{shown}:1: the file is not UTF-8 text")
        return None
    except (yaml.YAMLError, RecursionError) as exc:
        mark = getattr(exc, "problem_mark", None)
        context = getattr(exc, "context_mark", None)
        if context is not None and "stream end" in str(getattr(exc, "problem", "")):
            mark = context  # an unclosed bracket or quote: point where it was opened
        line = mark.line + 1 if mark is not None else 1
        problem = getattr(exc, "problem", None) or str(exc)
        errors.append(f"{shown}:{line}: invalid YAML: {problem}")
        return None
    lines: dict[Path_, int] = {}
    if node is not None:
        _lines(node, (), lines)
    return Parsed(shown, data if data is not None else {}, lines)


def _too_deep(text: str) -> int | None:
    """The line where ``text`` nests deeper than ``MAX_YAML_DEPTH``, or None. Read from the
    parser's events, which need no recursion: composing a deeper file would exhaust Python's
    stack."""
    depth = 0
    for event in yaml.parse(text, Loader=_Loader):
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > MAX_YAML_DEPTH:
                mark = event.start_mark
                return mark.line + 1 if mark is not None else 1
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1
    return None


def _one_per_union(errors: list[Any]) -> list[Any]:
    """A condition's value that fits none of its types gets one error, not one per type."""
    out: list[Any] = []
    seen: set[tuple[Any, ...]] = set()
    for err in errors:
        loc = tuple(err["loc"])
        at = next(
            (k for k in range(len(loc) - 1) if loc[k] == "value" and loc[k + 1] in VALUE_MEMBERS),
            None,
        )
        if at is None:
            out.append(err)
        elif loc[: at + 1] not in seen:
            seen.add(loc[: at + 1])
            found = _shown(err.get("input"))
            out.append(
                {
                    "type": "value_union",
                    "loc": loc[: at + 1],
                    "msg": "expected text, a number, true or false, or a list of text and "
                    f"numbers, found {found}",
                }
            )
    return out


def _validate(parsed: Parsed, model: type[M], errors: list[str]) -> M | None:
    try:
        return model.model_validate(parsed.data)
    except ValidationError as exc:
        for err in _one_per_union(list(exc.errors())):
            loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p == model.__name__))
            # discriminated unions add the tag to the path: drop it for the admin
            loc = tuple(p for p in loc if p not in ("round_robin", "weighted", "least_loaded"))
            if err["type"] == "union_tag_invalid":
                loc = (*loc, "type")
            errors.append(
                f"{parsed.name}:{parsed.line(loc)}: {dotted(loc)}: "
                f"{_message(model, {**err, 'loc': loc})}"
            )
        return None


def _version(files: dict[str, bytes]) -> str:
    digest = hashlib.sha256()
    for name in sorted(files):
        digest.update(name.encode() + b"\0" + files[name] + b"\0")
    return digest.hexdigest()[:16]


def load_mappings(directory: Path) -> Mappings:
    errors: list[str] = []
    raw: dict[str, bytes] = {}
    if not directory.is_dir():
        raise MappingsError([f"{directory}: not a folder (RELAIS_MAPPINGS_DIR)"])
    for name in FILES:
        path = directory / name
        if path.is_file() and (size := path.stat().st_size) > MAX_FILE_BYTES:
            errors.append(
                f"{directory}/{name}:1: the file is {size:,} bytes: larger than the "
                f"{MAX_FILE_BYTES // 1024} KiB a mappings file may be (docs/mappings.md, Limits)"
            )
        elif path.is_file():
            raw[name] = path.read_bytes()
        elif name in REQUIRED:
            errors.append(
                f"{directory}/{name}:1: missing file (every mappings folder has "
                f"{', '.join(REQUIRED)})"
            )
    for path in sorted(directory.glob("*.y*ml")):
        if path.name not in FILES:
            errors.append(
                f"{path}:1: unknown file{_suggest(path.name, list(FILES))} "
                f"(known files: {', '.join(FILES)})"
            )
    parsed = {n: p for n, data in raw.items() if (p := _parse(directory, n, data, errors))}
    models: dict[str, Any] = {n: _validate(p, FILES[n], errors) for n, p in parsed.items()}
    if all(models.get(n) is not None for n in REQUIRED):
        _cross_check(models, parsed, errors)
    if errors:
        raise MappingsError(errors)
    return Mappings(
        team=models["team.yaml"],
        routing=models["routing.yaml"],
        scoring=models["scoring.yaml"],
        fields=models.get("fields.yaml"),
        values=models.get("values.yaml") or Values(),
        sync=models.get("sync.yaml") or Sync(),
        qualification=models.get("qualification.yaml"),
        version=_version(raw),
        source=str(directory),
        files=tuple(sorted(raw)),
        lines={n: p.lines for n, p in parsed.items()},
        enrichment=models.get("enrichment.yaml"),
    )


def _cross_check(models: dict[str, Any], parsed: dict[str, Parsed], errors: list[str]) -> None:
    """The rules that span files, each error appended to ``errors`` with its file and line."""
    check = _CrossCheck(models, parsed, errors)
    check.routing(check.team())
    check.fields(check.value_maps())
    check.rules()
    check.bands()
    check.enrichment()
    check.sync_enrichment()


@dataclass
class _CrossCheck:
    models: dict[str, Any]
    parsed: dict[str, Parsed]
    errors: list[str]

    def err(self, file: str, path: Path_, text: str) -> None:
        p = self.parsed[file]
        self.errors.append(f"{p.name}:{p.line(path)}: {dotted(path)}: {text}")

    def team(self) -> set[str]:
        """Each rep once, and every team member or manager a rep; returns the reps' emails."""
        team: Team = self.models["team.yaml"]
        emails = [r.email for r in team.reps]
        seen: set[str] = set()
        for i, rep in enumerate(team.reps):
            if rep.email in seen:
                self.err(
                    "team.yaml",
                    ("reps", i, "email"),
                    f"{rep.email} appears twice (a rep is one person)",
                )
            seen.add(rep.email)
        for i, group in enumerate(team.teams):
            for j, member in enumerate(group.members):
                if member.lower() not in seen:
                    self.err(
                        "team.yaml",
                        ("teams", i, "members", j),
                        f"{member} is not a rep{_suggest(member.lower(), emails)}",
                    )
            if group.manager and group.manager.lower() not in seen:
                self.err(
                    "team.yaml",
                    ("teams", i, "manager"),
                    f"{group.manager} is not a rep{_suggest(group.manager.lower(), emails)}",
                )
        return seen

    def routing(self, reps: set[str]) -> None:
        """Pools, the default, the fallback and the rules: each name known, each key with an
        effect (``ENGINE_SUPPORTS``)."""
        routing: Routing = self.models["routing.yaml"]
        self.pools(routing)
        self.routing_default(routing)
        self.fallback(routing)
        if routing.rules is not None:
            self.routing_rules(routing.rules, routing)
        self.unsupported(routing)

    def pools(self, routing: Routing) -> None:
        """Pools named once, their members reps of team.yaml, a segment some rep covers, no
        empty pool, no weight in a round-robin pool (once weighted pools exist)."""
        team: Team = self.models["team.yaml"]
        emails = [r.email for r in team.reps]
        names = [p.name for p in routing.pools]
        segments = sorted({s for r in team.reps for s in r.segments})
        for i, pool in enumerate(routing.pools):
            at: Path_ = ("pools", i)
            if names.count(pool.name) > 1 and names.index(pool.name) != i:
                self.err("routing.yaml", (*at, "name"), f"pool {pool.name!r} is defined twice")
            for j, member in enumerate(pool.members):
                if member not in emails:
                    self.err(
                        "routing.yaml",
                        (*at, "members", j),
                        f"{member} is not a rep in team.yaml{_suggest(member, emails)}",
                    )
            segment = pool.members_from_segment
            if segment is not None and segment not in segments:
                self.err(
                    "routing.yaml",
                    (*at, "members_from_segment"),
                    f"no rep of team.yaml has the segment {segment!r}{_suggest(segment, segments)}"
                    f" (segments: {', '.join(segments) or 'none'})",
                )
            elif not pool.members_in(team):
                self.err(
                    "routing.yaml",
                    (*at, "members"),
                    f"pool {pool.name!r} has no members: list reps in members, or name a "
                    "segment of team.yaml in members_from_segment",
                )
            if pool.type == "round_robin" and "weighted" in ENGINE_SUPPORTS:
                self.weights(at, pool.members, pool.members_in(team), team)
            weights = [r.weight for r in team.reps if r.email in pool.members_in(team)]
            if pool.type == "weighted" and weights and not any(weights):
                self.err(
                    "routing.yaml",
                    (*at, "type"),
                    f"every member of the weighted pool {pool.name!r} has weight 0 in "
                    "team.yaml: it would give no lead to anyone",
                )

    def weights(self, at: Path_, listed: list[str], members: list[str], team: Team) -> None:
        """A round robin ignores weights: a weighted rep in one is refused, not ignored."""
        weight = {r.email: r.weight for r in team.reps}
        for email in members:
            if weight.get(email, 1.0) == 1.0:
                continue
            path = (
                (*at, "members", listed.index(email))
                if email in listed
                else (*at, "members_from_segment")
            )
            self.err(
                "routing.yaml",
                path,
                f"{email} has weight {weight[email]:g} in team.yaml, and this pool is a round "
                "robin: weights apply to weighted pools (type: weighted)",
            )

    def routing_default(self, routing: Routing) -> None:
        """Where a lead no rule takes goes: default_pool, or the rules' last (default) rule."""
        names = [p.name for p in routing.pools]
        if routing.rules is not None and routing.default_pool_ is not None:
            self.err(
                "routing.yaml",
                ("default_pool",),
                "default_pool or rules, not both: with rules, the last rule (without when) "
                "is the default",
            )
        elif routing.rules is None and routing.default_pool_ is None:
            self.err("routing.yaml", ("default_pool",), "missing key 'default_pool' (or rules)")
        elif routing.default_pool_ is not None and routing.default_pool_ not in names:
            self.err(
                "routing.yaml",
                ("default_pool",),
                f"no pool named {routing.default_pool_!r}"
                f"{_suggest(routing.default_pool_, names)} (pools: {', '.join(names)})",
            )

    def fallback(self, routing: Routing) -> None:
        """One spelling of the fallback, naming a rep who can take leads, or a queue."""
        if routing.fallback is not None and routing.fallback_owner_ is not None:
            self.err(
                "routing.yaml",
                ("fallback_owner",),
                "fallback_owner is the older spelling of fallback: {rep: EMAIL}; use one, not both",
            )
        if routing.fallback_owner_ is not None:
            path: Path_ = ("fallback_owner",)
            target = Target("rep", routing.fallback_owner_.lower())
        elif routing.fallback is not None:
            target = routing.fallback.target
            path = ("fallback", target.kind)
        else:
            return
        self.target(path, target, routing)
        rep = next((r for r in self.models["team.yaml"].reps if r.email == target.name), None)
        if target.kind == "rep" and rep is not None and not rep.active:
            self.err(
                "routing.yaml",
                path,
                f"{target.name} is inactive in team.yaml: the fallback must be able to take leads",
            )

    def target(self, path: Path_, target: Target, routing: Routing) -> None:
        """A rule's target, or the fallback, names a pool of this file or a rep or a queue
        of team.yaml."""
        team: Team = self.models["team.yaml"]
        known = {
            "pool": ([p.name for p in routing.pools], "a pool of routing.yaml"),
            "rep": ([r.email for r in team.reps], "a rep in team.yaml"),
            "queue": ([q.name for q in team.queues], "a queue in team.yaml"),
        }
        names, what = known[target.kind]
        if target.name not in names:
            self.err(
                "routing.yaml",
                path,
                f"{target.name} is not {what}{_suggest(target.name, names)}",
            )

    def routing_rules(self, rules: list[RoutingRule], routing: Routing) -> None:
        """Each rule named once, reading fields someone feeds, sending to a known target,
        able to match (no earlier rule takes all its leads); the default last."""
        fields: Fields | None = self.models.get("fields.yaml")
        broken = "fields.yaml" in self.parsed and fields is None  # reports its own errors
        declared = {f.field: f.type for f in (fields.fields if fields else []) if f.type}
        types = BUILTIN_TYPES | declared | PSEUDO_FIELDS
        if len(rules) > MAX_RULES:
            self.err("routing.yaml", ("rules",), f"{len(rules):,} rules: more than {MAX_RULES:,}")
        names: dict[str, int] = {}
        for i, rule in enumerate(rules):
            at: Path_ = ("rules", i)
            if names.setdefault(rule.name, i) != i:
                self.err(
                    "routing.yaml",
                    (*at, "name"),
                    f"the rule name {rule.name!r} is already used by rules[{names[rule.name]}]",
                )
            for j, c in enumerate([] if broken else rule.when or []):
                self.condition("routing.yaml", (*at, "when", j), c, types, ROUTING_FIELD)
                self.pseudo_values((*at, "when", j), c)
            target = rule.target
            self.target((*at, target.kind), target, routing)
            self.reachable(rules, i)
            if rule.when is None and i < len(rules) - 1:
                self.err(
                    "routing.yaml",
                    at,
                    f"rule {rule.name!r} has no when: it is the default, and must come last",
                )
        if rules[-1].when is not None:
            self.err(
                "routing.yaml",
                ("rules",),
                "the last rule must be the default: a rule without when, which takes every "
                "lead no rule before it took (e.g. - {name: default, pool: inbound})",
            )

    def pseudo_values(self, path: Path_, condition: Condition) -> None:
        """grade is A-D, temperature hot, warm or cold: another value could never match."""
        for sub, leaf in leaves(condition, path):
            allowed = PSEUDO_VALUES.get(leaf.field or "")
            if allowed is None or leaf.op not in ("eq", "ne", "in", "not_in"):
                continue
            values = leaf.value if isinstance(leaf.value, list) else [leaf.value]
            folded = {a.casefold() for a in allowed}
            for value in values:
                if str(value).casefold() not in folded:
                    self.err(
                        "routing.yaml",
                        (*sub, "value"),
                        f"{value!r} is not a {leaf.field} (expected one of: {', '.join(allowed)})",
                    )

    def reachable(self, rules: list[RoutingRule], i: int) -> None:
        """Rule ``i`` can match: no earlier rule is without conditions, or has conditions all
        among its own (that rule takes every lead this one would)."""
        rule, line = rules[i], self.parsed["routing.yaml"].line
        mine = _condition_set(rule)
        for k, earlier in enumerate(rules[:i]):
            theirs = _condition_set(earlier)
            if earlier.when is None:
                why = "has no when: it takes every lead"
            elif theirs == mine:
                why = "has the same conditions"
            elif theirs <= mine:
                why = "has conditions all among this rule's: it takes every lead this one would"
            else:
                continue
            self.err(
                "routing.yaml",
                ("rules", i),
                f"rule {rule.name!r} can never match: rule {earlier.name!r} (line "
                f"{line(('rules', k))}) comes first and {why}",
            )
            return

    def unsupported(self, routing: Routing) -> None:
        """The keys and values the engine does not act on yet, refused (``ENGINE_SUPPORTS``)."""
        found: list[tuple[EngineFeature, Path_]] = []
        if routing.rules is not None:
            found.append(("rules", ("rules",)))
        for i, pool in enumerate(routing.pools):
            if pool.type != "round_robin":
                found.append((pool.type, ("pools", i, "type")))
            if pool.members_from_segment is not None:
                found.append(("members_from_segment", ("pools", i, "members_from_segment")))
        for i, rule in enumerate(routing.rules or []):
            if "account_owner_first" in rule.model_fields_set:
                found.append(("account_owner_first", ("rules", i, "account_owner_first")))
            if rule.when_nobody == "hold":
                found.append(("hold", ("rules", i, "when_nobody")))
            if rule.queue is not None:
                found.append(("queue", ("rules", i, "queue")))
        if routing.fallback is not None and routing.fallback.queue is not None:
            found.append(("queue", ("fallback", "queue")))
        for feature, path in found:
            if feature not in ENGINE_SUPPORTS:
                self.err("routing.yaml", path, f"{NOT_YET}: {NOT_SUPPORTED[feature]}")

    def field_type(self, i: int, f: FieldMapping) -> None:
        """A built-in field keeps its type; a new name declares one."""
        builtin = BUILTIN_TYPES.get(f.field)
        if builtin is None and f.type is None:
            self.err(
                "fields.yaml",
                ("fields", i, "field"),
                f"{f.field!r} is not a built-in field{_suggest(f.field, list(BUILTIN_TYPES))}: "
                f"to declare it, give its type ({', '.join(FIELD_TYPES)})",
            )
        elif builtin is not None and f.type not in (None, builtin):
            self.err(
                "fields.yaml",
                ("fields", i, "type"),
                f"{f.field} is a built-in {builtin} field: its type cannot be {f.type}",
            )

    def rules(self) -> None:
        """Each scoring and qualification condition names a known field, with an operator and
        a value its type takes; then the rest of the scoring model."""
        scoring: Scoring | None = self.models.get("scoring.yaml")
        fields: Fields | None = self.models.get("fields.yaml")
        if "fields.yaml" in self.parsed and fields is None:
            return  # a broken fields.yaml reports its own errors, not every use of it
        types = BUILTIN_TYPES | {
            f.field: f.type for f in (fields.fields if fields else []) if f.type
        }
        if scoring is not None:
            self.scoring_rules(scoring, types)
            self.scoring_model(scoring, types)
        qualification: Qualification | None = self.models.get("qualification.yaml")
        if qualification is not None:
            self.rule_count("qualification.yaml", qualification)
        for i, qrule in enumerate(qualification.rules if qualification else []):
            for j, c in enumerate(qrule.when):
                self.condition("qualification.yaml", ("rules", i, "when", j), c, types)

    def condition(
        self,
        file: str,
        path: Path_,
        condition: Condition,
        types: Mapping[str, FieldType],
        known: str = KNOWN_FIELD,
    ) -> None:
        """Every test on a field in ``condition`` (groups included) fits the field's type, and
        groups nest at most ``MAX_CONDITION_DEPTH`` deep."""
        deep = [p for p, _ in leaves(condition, path) if _groups_in(p) > MAX_CONDITION_DEPTH]
        if deep:
            cut = _groups_in(path) + MAX_CONDITION_DEPTH
            at = next(i for i in range(len(deep[0]) + 1) if _groups_in(deep[0][:i]) > cut)
            self.err(
                file,
                deep[0][:at],
                f"all, any and not nested more than {MAX_CONDITION_DEPTH} deep in one condition",
            )
            return
        for sub, leaf in leaves(condition, path):
            field_name, op = leaf.field or "", leaf.op or ""
            kind = types.get(field_name)
            if kind is None:
                self.err(
                    file,
                    (*sub, "field"),
                    f"unknown field {field_name!r}{_suggest(field_name, sorted(types))} ({known})",
                )
            elif (problem := rule_problem(kind, op, leaf.value)) is not None:
                self.err(file, sub, f"{field_name} ({kind}): {problem}")

    def rule_count(self, file: str, model: Scoring | Qualification) -> None:
        """At most ``MAX_RULES`` rules in the file: each is tested on every lead."""
        if isinstance(model, Scoring):
            tops = [(key, len(rules)) for _, key, rules in model.groups()]
            tops.append(("revealing", len(model.revealing)))
        else:
            tops = [("rules", len(model.rules))]
        if (count := sum(n for _, n in tops)) > MAX_RULES:
            self.err(
                file,
                (),
                f"{count:,} rules: more than the {MAX_RULES:,} a mappings file may hold "
                "(docs/mappings.md, Limits)",
            )

    def named_once(self, names: dict[str, Path_], name: str, path: Path_) -> None:
        """A scoring rule's name is its line in the breakdown: one rule per name."""
        first = names.setdefault(name, path)
        if first != path:
            self.err(
                "scoring.yaml",
                (*path, "name"),
                f"the rule name {name!r} is already used by {dotted(first)} (line "
                f"{self.parsed['scoring.yaml'].line(first)}): a score's breakdown could not "
                "tell them apart",
            )

    def typed_field(
        self, path: Path_, name: str, wanted: tuple[FieldType, ...], types: dict[str, FieldType]
    ) -> None:
        """A field a scoring key reads (per, decay) is known and of one of these types."""
        kind = types.get(name)
        if kind is None:
            self.err(
                "scoring.yaml",
                path,
                f"unknown field {name!r}{_suggest(name, sorted(types))} (a built-in field, or "
                "one declared in fields.yaml with its type)",
            )
        elif kind not in wanted:
            self.err(
                "scoring.yaml", path, f"{name} is a {kind} field: expected {' or '.join(wanted)}"
            )

    def scoring_rules(self, scoring: Scoring, types: dict[str, FieldType]) -> None:
        """The rules of each group and the revealing acts: conditions that fit their fields,
        counted rules on number fields, negative rules that take points."""
        if scoring.fit is not None and scoring.rules is not None:
            self.err(
                "scoring.yaml",
                ("rules",),
                "rules is the older spelling of fit: use one or the other, not both",
            )
        self.rule_count("scoring.yaml", scoring)
        names: dict[str, Path_] = {}
        for group, key, rules in scoring.groups():
            for i, rule in enumerate(rules):
                self.condition("scoring.yaml", (key, i), rule, types)
                self.named_once(names, rule.name, (key, i))
                if rule.per is not None:
                    self.typed_field((key, i, "per"), rule.per, ("number",), types)
                if group == "negative" and rule.points >= 0:
                    self.err(
                        "scoring.yaml",
                        (key, i, "points"),
                        f"a negative rule takes points: {rule.points} must be below 0",
                    )
        for i, act in enumerate(scoring.revealing):
            self.condition("scoring.yaml", ("revealing", i), act, types)

    def scoring_model(self, scoring: Scoring, types: dict[str, FieldType]) -> None:
        """Decay on a date, caps on groups that have rules, grades and levels in order, a
        total cap a lead can reach the threshold under."""
        if scoring.decay is not None:
            self.typed_field(("decay", "field"), scoring.decay.field, ("date", "datetime"), types)
        for group, key, rules in scoring.groups():
            if scoring.caps is not None and getattr(scoring.caps, group) is not None and not rules:
                self.err("scoring.yaml", ("caps", group), f"no {key} rules: this cap has no effect")
        g, lv = scoring.grades, scoring.levels
        if g is not None and not g.A > g.B > g.C:
            self.err(
                "scoring.yaml",
                ("grades",),
                f"grades must fall from A to B to C: A {g.A}, B {g.B}, C {g.C}",
            )
        if lv is not None and not lv.three > lv.two:
            self.err(
                "scoring.yaml",
                ("levels",),
                f"level 3 must need more points than level 2: 3 {lv.three}, 2 {lv.two}",
            )
        if scoring.max_total is not None and scoring.max_total < scoring.threshold:
            self.err(
                "scoring.yaml",
                ("max_total",),
                f"max_total {scoring.max_total} is below the threshold {scoring.threshold}: "
                "no score could reach it",
            )

    def bands(self) -> None:
        """Temperature bands in order (cold < warm < hot), the threshold within them."""
        scoring: Scoring | None = self.models.get("scoring.yaml")
        if scoring is None or scoring.bands is None:
            return
        b = scoring.bands
        if not b.cold < b.warm < b.hot:
            self.err(
                "scoring.yaml",
                ("bands",),
                f"bands must rise from cold to warm to hot, each above the one before: "
                f"cold {b.cold}, warm {b.warm}, hot {b.hot}",
            )
        elif not b.cold <= scoring.threshold <= b.hot:
            self.err(
                "scoring.yaml",
                ("threshold",),
                f"the threshold {scoring.threshold} is outside the bands: it must lie "
                f"between cold ({b.cold}) and hot ({b.hot})",
            )

    def value_maps(self) -> list[str]:
        """Each value map named once, its default one of its values; returns their names."""
        values: Values | None = self.models.get("values.yaml")
        if values is None:
            return []
        map_names = [v.name for v in values.value_maps]
        for i, vmap in enumerate(values.value_maps):
            canon = [v.value for v in vmap.values]
            if vmap.default not in canon:
                self.err(
                    "values.yaml",
                    ("value_maps", i, "default"),
                    f"{vmap.default!r} is not one of this "
                    f"map's values{_suggest(vmap.default, canon)} ({', '.join(canon)})",
                )
            if map_names.count(vmap.name) > 1 and map_names.index(vmap.name) != i:
                self.err(
                    "values.yaml",
                    ("value_maps", i, "name"),
                    f"value map {vmap.name!r} defined twice",
                )
        return map_names

    def fields(self, map_names: list[str]) -> None:
        """Each field mapped once, the email among them, value maps known, syncs possible;
        then the scoring rules on value-mapped fields."""
        fields: Fields | None = self.models.get("fields.yaml")
        if fields is None:
            return
        # values.yaml present but invalid: its own errors are reported, not every use of it
        values_broken = "values.yaml" in self.parsed and self.models.get("values.yaml") is None
        mapped: set[str] = set()
        for i, f in enumerate(fields.fields):
            if f.field in mapped:
                self.err("fields.yaml", ("fields", i, "field"), f"{f.field!r} is mapped twice")
            mapped.add(f.field)
            self.field_type(i, f)
            if f.value_map is not None and not values_broken and f.value_map not in map_names:
                self.err(
                    "fields.yaml",
                    ("fields", i, "value_map"),
                    f"no value map named {f.value_map!r} in "
                    f"values.yaml{_suggest(f.value_map, map_names)}",
                )
            if f.sync != "none" and not (f.hubspot and (f.salesforce_lead or f.salesforce_contact)):
                self.err(
                    "fields.yaml",
                    ("fields", i, "sync"),
                    f"sync {f.sync!r} needs a HubSpot property and a Salesforce field",
                )
        if LeadField.EMAIL not in mapped:
            self.err(
                "fields.yaml",
                ("fields",),
                "the email field must be mapped (it links people across CRMs)",
            )
        self.scoring_values({f.field: f.value_map for f in fields.fields if f.value_map})

    def scoring_values(self, field_maps: dict[str, str]) -> None:
        """A scoring rule on a value-mapped field compares canonical values: they must exist."""
        values: Values | None = self.models.get("values.yaml")
        canon_by_map = {
            v.name: [e.value for e in v.values] for v in (values.value_maps if values else [])
        }
        scoring: Scoring = self.models["scoring.yaml"]
        tops: list[tuple[Path_, Condition]] = [
            ((key, i), rule) for _, key, rules in scoring.groups() for i, rule in enumerate(rules)
        ]
        tops += [(("revealing", i), act) for i, act in enumerate(scoring.revealing)]
        for top_path, top in tops:
            for at, rule in leaves(top, top_path):
                map_name = field_maps.get(rule.field or "")
                if (
                    map_name is None
                    or map_name not in canon_by_map
                    or rule.op not in ("eq", "ne", "in", "not_in")
                ):
                    continue
                self.mapped_values(at, rule.value, map_name, canon_by_map[map_name])

    def mapped_values(self, path: Path_, value: object, map_name: str, canon: list[str]) -> None:
        wanted = value if isinstance(value, list) else [value]
        for j, one in enumerate(wanted):
            if str(one).casefold() not in {c.casefold() for c in canon}:
                self.err(
                    "scoring.yaml",
                    (*path, "value", j) if isinstance(value, list) else (*path, "value"),
                    f"{one!r} is not a value of the value map {map_name!r}"
                    f"{_suggest(str(one).lower(), canon)} ({', '.join(canon)})",
                )

    def enrichment(self) -> None:
        """The http provider's fields are known fields and its secret's variable is set."""
        enrichment: Enrichment | None = self.models.get("enrichment.yaml")
        fields: Fields | None = self.models.get("fields.yaml")
        if enrichment is None or enrichment.http is None:
            return
        if "fields.yaml" in self.parsed and fields is None:
            return  # a broken fields.yaml reports its own errors
        known = sorted(BUILTIN_TYPES | {f.field: f.type for f in (fields.fields if fields else [])})
        http = enrichment.http
        named: list[tuple[Path_, str]] = [(("http", "send", i), n) for i, n in enumerate(http.send)]
        named += [(("http", "fields", n), n) for n in http.fields]
        for path, name in named:
            if name not in known:
                self.err(
                    "enrichment.yaml",
                    path,
                    f"unknown field {name!r}{_suggest(name, known)} (a built-in field, or one "
                    "declared in fields.yaml)",
                )
        if http.auth is not None and not os.environ.get(http.auth.env):
            self.err(
                "enrichment.yaml",
                ("http", "auth", "env"),
                f"the environment variable {http.auth.env} is not set (it holds the value of "
                f"the {http.auth.header} header)",
            )

    def sync_enrichment(self) -> None:
        """Each enriched field written back is set by a provider turned on, written once, to
        objects where fields.yaml maps it (that mapping is also where its value is read)."""
        sync: Sync | None = self.models.get("sync.yaml")
        if sync is None or not sync.enrichment:
            return
        broken = [f for f in ("fields.yaml", "enrichment.yaml") if f in self.parsed]
        if any(self.models.get(f) is None for f in broken):
            return  # a broken fields.yaml or enrichment.yaml reports its own errors
        enrichment: Enrichment | None = self.models.get("enrichment.yaml")
        fields: Fields | None = self.models.get("fields.yaml")
        set_by = enrichment.fields_set() if enrichment else set()
        seen: set[str] = set()
        for i, entry in enumerate(sync.enrichment):
            at: Path_ = ("enrichment", i)
            if entry.field in seen:
                self.err("sync.yaml", (*at, "field"), f"{entry.field!r} is written back twice")
            seen.add(entry.field)
            if entry.field not in set_by:
                self.err("sync.yaml", (*at, "field"), _not_enriched(entry.field, enrichment))
                continue
            mapped = (
                next((f for f in fields.fields if f.field == entry.field), None) if fields else None
            )
            if mapped is not None and mapped.value_map is not None:
                self.err(
                    "sync.yaml",
                    (*at, "field"),
                    f"{entry.field} has a value map (fields.yaml): writing back a value-mapped "
                    "field is not supported yet",
                )
            for j, target in enumerate(entry.to):
                if not _mapped_on(target, entry.field, fields):
                    self.err("sync.yaml", (*at, "to", j), _unmapped(target, entry.field))


def _condition_set(rule: RoutingRule) -> frozenset[str]:
    """A rule's conditions, comparable (all must hold: their order does not matter)."""
    return frozenset(
        json.dumps(c.model_dump(by_alias=True, exclude_none=True), sort_keys=True)
        for c in rule.when or []
    )


def _groups_in(path: Path_) -> int:
    """How many all, any and not groups ``path`` goes through."""
    return sum(1 for part in path if part in ("all", "any", "not"))


def _not_enriched(name: str, enrichment: Enrichment | None) -> str:
    if enrichment is None:
        return f"{name}: there is no enrichment.yaml, nothing is enriched to write back"
    on = ", ".join(enrichment.providers)
    close = _suggest(name, sorted(enrichment.fields_set()))
    return f"{name!r} is set by none of the providers enrichment.yaml turns on ({on}){close}"


# Each place sync.yaml's enrichment may write to -> the fields.yaml keys mapping a field there.
TARGET_KEYS: dict[WriteTarget, tuple[str, ...]] = {
    "hubspot": ("hubspot",),
    "salesforce": ("salesforce_lead", "salesforce_contact"),
    "salesforce_lead": ("salesforce_lead",),
    "salesforce_contact": ("salesforce_contact",),
}


def _mapped_on(target: WriteTarget, name: str, fields: Fields | None) -> bool:
    """fields.yaml (else the standard names) maps ``name`` on at least one object of target."""
    if fields is None:
        defaults = {"hubspot": HUBSPOT_CONTACT_PROPERTIES} | {
            f"salesforce_{o.lower()}": f for o, f in SALESFORCE_FIELDS.items()
        }
        return any(name in defaults.get(key, {}) for key in TARGET_KEYS[target])
    entry = next((f for f in fields.fields if f.field == name), None)
    return entry is not None and any(getattr(entry, key) for key in TARGET_KEYS[target])


def _unmapped(target: WriteTarget, name: str) -> str:
    keys = " or ".join(f"{k}: <name>" for k in TARGET_KEYS[target])
    return (
        f"{name} is not mapped to a {target} property or field in fields.yaml: nowhere to "
        f"write it (add {keys} to its entry; the CRM's value is read there first)"
    )


class MappingsStore:
    """The active mappings; a reload that does not validate leaves the last good version."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._lock = threading.Lock()
        self._current: Mappings | None = None
        self.loaded_at: datetime | None = None

    @property
    def current(self) -> Mappings:
        if self._current is None:
            raise MappingsError([f"{self.directory}: mappings not loaded"])
        return self._current

    @property
    def loaded(self) -> bool:
        return self._current is not None

    def reload(self) -> Mappings:
        """Load and switch; on errors raise MappingsError and keep serving the old version."""
        with self._lock:  # one reload at a time: the last one started is the one that wins
            fresh = load_mappings(self.directory)
            self._current = fresh
            self.loaded_at = datetime.now(UTC)
        return fresh

    def reload_or_keep(self, by: str) -> Mappings | MappingsError:
        """Reload and log the outcome (``by``: what asked); on any error keep serving the last
        good version and return the error, every problem listed, instead of raising."""
        before = self._current.version if self._current is not None else None
        try:
            fresh = self.reload()
        except Exception as exc:  # MappingsError, or anything unexpected: keep serving
            error = exc if isinstance(exc, MappingsError) else MappingsError([repr(exc)])
            log.warning("mappings.reload_refused", by=by, errors=error.errors, active=before)
            return error
        log.info("mappings.reloaded", by=by, version=fresh.version, previous=before)
        return fresh
