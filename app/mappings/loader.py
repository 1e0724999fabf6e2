"""Load ``mappings/`` into one immutable, versioned snapshot, or say precisely what is wrong."""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from app.mappings.schemas import Rep, Routing, Scoring, Team

FILES: dict[str, type[BaseModel]] = {
    "team.yaml": Team,
    "routing.yaml": Routing,
    "scoring.yaml": Scoring,
}
M = TypeVar("M", bound=BaseModel)


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
    version: str  # sha256 of the files' names and bytes: recorded in every decision
    source: str

    def rep(self, email: str) -> Rep | None:
        return next((r for r in self.team.reps if r.email == email), None)


def _version(files: dict[str, bytes]) -> str:
    digest = hashlib.sha256()
    for name in sorted(files):
        digest.update(name.encode() + b"\0" + files[name] + b"\0")
    return digest.hexdigest()[:16]


def _parse(name: str, raw: bytes, model: type[M], errors: list[str]) -> M | None:
    try:
        data: Any = yaml.safe_load(raw)
    except yaml.YAMLError as exc:
        errors.append(f"{name}: invalid YAML: {exc}")
        return None
    try:
        return model.model_validate(data if data is not None else {})
    except ValidationError as exc:
        for err in exc.errors():
            path = ".".join(str(p) for p in err["loc"]) or "(top level)"
            errors.append(f"{name}: {path}: {err['msg']}")
        return None


def load_mappings(directory: Path) -> Mappings:
    errors: list[str] = []
    raw: dict[str, bytes] = {}
    for name in FILES:
        path = directory / name
        if not path.is_file():
            errors.append(f"{path}: missing (expected {', '.join(FILES)} in {directory})")
            continue
        raw[name] = path.read_bytes()
    parsed = {name: _parse(name, data, FILES[name], errors) for name, data in raw.items()}
    team, routing, scoring = (parsed.get(n) for n in FILES)
    if isinstance(team, Team) and isinstance(routing, Routing):
        _cross_check(team, routing, errors)
    if errors or not (
        isinstance(team, Team) and isinstance(routing, Routing) and isinstance(scoring, Scoring)
    ):
        raise MappingsError(errors)
    return Mappings(team, routing, scoring, _version(raw), str(directory))


def _cross_check(team: Team, routing: Routing, errors: list[str]) -> None:
    seen: set[str] = set()
    for i, rep in enumerate(team.reps):
        if rep.email in seen:
            errors.append(f"team.yaml: reps.{i}.email: {rep.email} appears twice")
        seen.add(rep.email)
    names = [p.name for p in routing.pools]
    for i, pool in enumerate(routing.pools):
        if names.count(pool.name) > 1:
            errors.append(f"routing.yaml: pools.{i}.name: pool {pool.name!r} is defined twice")
        for j, member in enumerate(pool.members):
            if member not in seen:
                errors.append(
                    f"routing.yaml: pools.{i}.members.{j}: {member} is not a rep in team.yaml"
                )
    if routing.fallback_owner is not None and routing.fallback_owner.lower() not in seen:
        errors.append(
            f"routing.yaml: fallback_owner: {routing.fallback_owner} is not a rep in team.yaml"
        )
    if routing.default_pool not in names:
        errors.append(
            f"routing.yaml: default_pool: no pool named {routing.default_pool!r} "
            f"(pools: {', '.join(names)})"
        )


class MappingsStore:
    """The active mappings; a reload that does not validate leaves the last good version."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._lock = threading.Lock()
        self._current: Mappings | None = None

    @property
    def current(self) -> Mappings:
        if self._current is None:
            raise MappingsError([f"{self.directory}: mappings not loaded"])
        return self._current

    @property
    def loaded(self) -> bool:
        return self._current is not None

    def reload(self) -> Mappings:
        fresh = load_mappings(self.directory)
        with self._lock:
            self._current = fresh
        return fresh
