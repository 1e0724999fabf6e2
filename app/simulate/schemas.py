"""What a dry run returns: the evaluation of one lead, as the live path would compute it."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from app.mappings.schemas import QualificationOutcome
from app.records.schemas import Lead
from connectors.crm import RecordKey


@dataclass(frozen=True)
class SimulationRequest:
    """A lead given as canonical fields, or the CRM record to read it from; and the instant to
    simulate at (None: now)."""

    lead: Lead | None = None
    record: RecordKey | None = None
    at: datetime | None = None
    enrich: bool = True  # False: scored on the fields given or read, as without enrichment.yaml


@dataclass(frozen=True)
class RuleFired:
    rule: str
    points: int
    group: str  # fit, engagement, negative; decay; a cap
    value: str | None  # the lead's value that triggered it


@dataclass(frozen=True)
class QualificationResult:
    outcome: QualificationOutcome  # ready | nurture | disqualified | incomplete
    reason: str  # the deciding rule's name, or why no rule applied


@dataclass(frozen=True)
class Gap:
    provider: str  # a provider that failed or was too slow: the lead went on without it
    reason: str


@dataclass(frozen=True)
class EnrichmentResult:
    """What enrichment.yaml's providers did to the lead, as the worker would run them."""

    providers: tuple[str, ...]  # the providers run, in enrichment.yaml's order
    found: dict[str, str | None]  # each field a provider added or changed, with its value
    replaced: dict[str, str | None]  # for each field changed, the value given or read first
    gaps: tuple[Gap, ...]


@dataclass(frozen=True)
class Simulation:
    """One lead through the stages the dry run covers today (read for ``--record``,
    enrichment, the score with the fields' types, qualification). Assignment adds its own keys
    when it exists."""

    at: datetime  # the instant simulated (UTC; --at, else now): the decay counts months to it
    mappings_version: str
    record: str | None  # the CRM record read (crm:object:id); None for a lead given as fields
    lead: dict[str, str | None]  # the canonical fields as evaluated (enriched)
    enrichment: EnrichmentResult | None  # None: not run (--no-enrich, or no enrichment.yaml)
    score: int
    sales_ready: bool
    temperature: str | None  # hot | warm | cold from scoring.yaml's bands; None: below them
    grade: str | None  # A-D on the fit points (scoring.yaml grades); None without grades
    level: int | None  # 1-3 on the engagement points (scoring.yaml levels); None without
    revealing: str | None  # the revealing act that made the lead sales-ready, if any
    breakdown: tuple[RuleFired, ...]  # every rule that fired, in scoring.yaml's order
    qualification: QualificationResult
    routed: bool  # ready: the live path would take the lead to the assignment stage
    # For a ready lead: the pool (or rep) its rule sends it to, the rep the live path would
    # pick now, the outcome, the reason and the explanation as data. None: not ready.
    routing: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        """The result as both edges print it (the CLI and POST /admin/api/simulate)."""
        out = asdict(self)
        out["at"] = self.at.astimezone(UTC).isoformat().replace("+00:00", "Z")
        out["breakdown"] = [asdict(r) for r in self.breakdown]  # a list, as JSON has
        if self.enrichment is not None:
            out["enrichment"]["gaps"] = [asdict(g) for g in self.enrichment.gaps]
        return out
