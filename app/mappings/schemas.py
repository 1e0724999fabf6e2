"""One pydantic model per node of the mappings language. Unknown keys are refused; every field
is documented (the descriptions become the JSON Schema editors use)."""

from __future__ import annotations

import itertools
import re
from datetime import date, time
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from app.mappings.fields import FIELD_NAME, FieldType, LeadField
from connectors.crm import Crm

EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
Day = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Day, ...] = ("mon", "tue", "wed", "thu", "fri")


class Node(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


# Which key of a per-object section (hubspot, salesforce_lead, salesforce_contact) holds the
# values for a CRM object.
OBJECT_SECTIONS = {
    (Crm.HUBSPOT, "contact"): "hubspot",
    (Crm.SALESFORCE, "Lead"): "salesforce_lead",
    (Crm.SALESFORCE, "Contact"): "salesforce_contact",
}


def for_object(section: BaseModel, crm: Crm, sobject: str) -> object | None:
    """The part of a per-object section that applies to this CRM object."""
    name = OBJECT_SECTIONS.get((crm, sobject))
    return getattr(section, name) if name else None


# -- team.yaml --------------------------------------------------------------------------------


class Capacity(Node):
    per_day: int | None = Field(None, ge=0, description="Most new leads a day (none: no cap)")
    per_week: int | None = Field(None, ge=0, description="Most new leads a week (none: no cap)")


class WorkingHours(Node):
    timezone: str = Field(description="IANA time zone, e.g. Europe/Paris")
    days: list[Day] = Field(default_factory=lambda: list(WEEKDAYS), description="Working days")
    start: time = Field(time(9, 0), description="Start of the working day, HH:MM local time")
    end: time = Field(time(18, 0), description="End of the working day, HH:MM local time")

    @field_validator("start", "end", mode="before")
    @classmethod
    def _text_time(cls, value: object) -> object:
        if not isinstance(value, str):
            raise ValueError(f'expected a time "HH:MM" in quotes, found {value!r}')
        return value

    @field_validator("timezone")
    @classmethod
    def _tz(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(
                f"expected an IANA time zone such as Europe/Paris, found {value!r}"
            ) from exc
        return value

    @model_validator(mode="after")
    def _order(self) -> WorkingHours:
        if self.end <= self.start:
            raise ValueError(f"end ({self.end:%H:%M}) must be after start ({self.start:%H:%M})")
        return self


class Absence(Node):
    start: date = Field(description="First day away (YYYY-MM-DD)")
    end: date = Field(description="Last day away (YYYY-MM-DD), included")
    reason: str = ""

    @model_validator(mode="after")
    def _order(self) -> Absence:
        if self.end < self.start:
            raise ValueError(f"end ({self.end}) is before start ({self.start})")
        return self


class Rep(Node):
    email: str = Field(description="The rep's login email: identifies them in every CRM")
    name: str = Field(description="Full name, as shown in decisions and reports")
    active: bool = Field(True, description="Inactive reps receive no new leads")
    weight: float = Field(1.0, ge=0, description="Share of leads relative to others (1 = equal)")
    segments: list[str] = Field(
        default_factory=list, description="Segments, territories or skills this rep covers"
    )
    capacity: Capacity = Field(default_factory=Capacity)
    working_hours: WorkingHours | None = None
    out_of_office: list[Absence] = Field(default_factory=list)

    @field_validator("email")
    @classmethod
    def _email(cls, value: str) -> str:
        if not EMAIL_RE.match(value):
            raise ValueError(f"expected an email address, found {value!r}")
        return value.lower()

    @field_validator("out_of_office")
    @classmethod
    def _no_overlap(cls, value: list[Absence]) -> list[Absence]:
        ordered = sorted(value, key=lambda a: a.start)
        for before, after in itertools.pairwise(ordered):
            if after.start <= before.end:
                raise ValueError(
                    f"absences overlap: {before.start}..{before.end} and {after.start}..{after.end}"
                )
        return value


class TeamGroup(Node):
    name: str = Field(description="Team name (e.g. a region)")
    manager: str | None = Field(None, description="Email of the team's manager (a rep)")
    members: list[str] = Field(min_length=1, description="Emails of reps")


class Queue(Node):
    name: str = Field(description="Name used in the mappings")
    salesforce_queue: str | None = Field(None, description="The queue's DeveloperName")


class Team(Node):
    reps: list[Rep] = Field(description="Every sales rep Relais may assign leads to")
    teams: list[TeamGroup] = Field(default_factory=list)
    queues: list[Queue] = Field(default_factory=list)


# -- routing.yaml -----------------------------------------------------------------------------


class RoundRobinPool(Node):
    type: Literal["round_robin"] = Field(description="Equal rotation, least-assigned first")
    name: str = Field(description="Unique pool name, recorded in every decision")
    description: str = ""
    members: list[str] = Field(min_length=1, description="Emails of reps from team.yaml")

    @field_validator("members")
    @classmethod
    def _lower(cls, value: list[str]) -> list[str]:
        return [m.lower() for m in value]


Pool = Annotated[RoundRobinPool, Field(discriminator="type")]


class Routing(Node):
    pools: list[Pool] = Field(min_length=1)
    default_pool: str = Field(description="Pool used for every lead (segment rules come later)")
    fallback_owner: str | None = Field(
        None,
        description="Email of the person who receives a lead when no rep of the pool can "
        "(all inactive, or unknown in a CRM the lead lives in); must exist in both CRMs",
    )


# -- scoring.yaml -----------------------------------------------------------------------------

FieldName = Annotated[
    str,
    Field(pattern=FIELD_NAME.pattern, description="lower-case letters, digits and '_'"),
]
Operator = Literal["eq", "ne", "in", "contains", "gt", "gte", "lt", "lte", "exists", "missing"]


class ScoringRule(Node):
    name: str = Field(description="Shown to reps as the reason for these points")
    field: FieldName = Field(
        description="Canonical lead field the rule reads: built in, or declared in fields.yaml"
    )
    op: Operator
    value: bool | float | str | list[str | float] | None = Field(
        None,
        description="What the field is compared with, read as the field's type (a list for "
        "in); none for exists/missing",
    )
    points: int = Field(description="Added when the rule matches (negative to subtract)")


class Bands(Node):
    hot: int = Field(description="From this score a lead is hot")
    warm: int = Field(description="From this score a lead is warm")
    cold: int = Field(description="Below warm and from this score a lead is cold")


class ScoreFields(Node):
    """The CRM properties or fields that show a rep the score (none: not written)."""

    score: str | None = Field(None, description="The total score (a number property)")
    temperature: str | None = Field(None, description="hot, warm or cold (text or picklist)")
    breakdown: str | None = Field(
        None,
        description="One line a rep can read: '215: HR director +60, ...; -10 inactive' "
        "(text, cut at 255 characters)",
    )


class ScoreWrite(Node):
    hubspot: ScoreFields = Field(default_factory=ScoreFields, description="HubSpot contact")
    salesforce_lead: ScoreFields = Field(default_factory=ScoreFields, description="Salesforce Lead")
    salesforce_contact: ScoreFields = Field(
        default_factory=ScoreFields, description="Salesforce Contact"
    )


class Scoring(Node):
    threshold: int = Field(description="Score from which a lead is sales-ready")
    bands: Bands | None = None
    rules: list[ScoringRule] = Field(default_factory=list)
    write: ScoreWrite | None = Field(
        None,
        description="Where each CRM shows the score, written with the decision (with the "
        "owner when there is one)",
    )


# -- qualification.yaml -----------------------------------------------------------------------

QualificationOutcome = Literal["disqualified", "incomplete", "nurture", "ready"]


class Condition(Node):
    field: FieldName = Field(description="Canonical lead field: built in or declared")
    op: Operator
    value: bool | float | str | list[str | float] | None = Field(
        None, description="Read as the field's type (a list for in); none for exists/missing"
    )


class QualificationRule(Node):
    name: str = Field(description="The reason recorded in the decision and shown to admins")
    outcome: QualificationOutcome = Field(
        description="disqualified (out of target), incomplete (stays in marketing until "
        "completed), nurture (not ready yet) or ready (routed to a rep)"
    )
    when: list[Condition] = Field(
        min_length=1, description="Every condition must hold for the rule to apply"
    )


class WriteBack(Node):
    """The values an outcome writes to each CRM object (property or field -> value)."""

    hubspot: dict[str, str] = Field(default_factory=dict, description="HubSpot contact")
    salesforce_lead: dict[str, str] = Field(default_factory=dict, description="Salesforce Lead")
    salesforce_contact: dict[str, str] = Field(
        default_factory=dict, description="Salesforce Contact"
    )


class Qualification(Node):
    rules: list[QualificationRule] = Field(
        default_factory=list,
        description="In order, the first rule whose conditions all hold decides; a lead no "
        "rule takes is ready when its score reaches scoring.yaml's threshold, else nurture",
    )
    outcomes: dict[QualificationOutcome, WriteBack] = Field(
        default_factory=dict, description="What each outcome writes back to the CRMs"
    )


# -- fields.yaml ------------------------------------------------------------------------------

Direction = Literal["none", "hubspot_to_salesforce", "salesforce_to_hubspot", "both"]


class FieldMapping(Node):
    field: FieldName = Field(
        description="The canonical lead field: a built-in one (email, title, company_size, "
        "...), or a new name that this entry declares (give its type)"
    )
    type: FieldType | None = Field(
        None,
        description="What the field holds: text, number, date, datetime, boolean or list "
        "(a multi-select, values separated by ';'). Required for a field declared here; a "
        "built-in field's type is fixed",
    )
    description: str = Field("", description="What the field means, for the admins who read it")
    hubspot: str | None = Field(None, description="HubSpot contact property feeding it")
    salesforce_lead: str | None = Field(None, description="Salesforce Lead field feeding it")
    salesforce_contact: str | None = Field(None, description="Salesforce Contact field")
    sync: Direction = Field("none", description="Which way Relais copies the value")
    value_map: str | None = Field(None, description="Name of a value map in values.yaml")


class Fields(Node):
    fields: list[FieldMapping] = Field(min_length=1)


# -- values.yaml ------------------------------------------------------------------------------


class ValueEntry(Node):
    value: str = Field(description="The canonical value")
    hubspot: str | None = Field(None, description="Internal value in HubSpot")
    salesforce: str | None = Field(None, description="API value in Salesforce")


class ValueMap(Node):
    name: str
    values: list[ValueEntry] = Field(min_length=1)
    default: str = Field(description="Canonical value for anything not listed")


class Values(Node):
    value_maps: list[ValueMap] = Field(default_factory=list)


# -- sync.yaml --------------------------------------------------------------------------------


class OwnerSync(Node):
    source_of_truth: Crm = Field(
        Crm.SALESFORCE,
        description="When a linked lead's owner changes in this CRM, Relais copies it to the "
        "other; a change made in the other CRM is recorded but not copied back",
    )


class FieldSync(Node):
    field: LeadField
    source_of_truth: Crm
    overwrite: bool = Field(False, description="May Relais overwrite a value already set?")


class Sync(Node):
    owner: OwnerSync = Field(default_factory=OwnerSync)
    fields: list[FieldSync] = Field(default_factory=list)


# -- enrichment.yaml --------------------------------------------------------------------------


class HttpAuth(Node):
    header: str = Field(
        pattern=r"^[A-Za-z0-9-]{1,64}$", description="The header carrying the secret"
    )
    env: str = Field(
        pattern=r"^[A-Z_][A-Z0-9_]{0,127}$",
        description="The environment variable holding the header's whole value (e.g. "
        "'Bearer ...'); never the value itself",
    )


class HttpEnrichment(Node):
    """Your own enrichment service (or a data vendor's): Relais POSTs the fields of ``send``
    as a JSON object and reads the fields of ``fields`` from the JSON object it answers."""

    url: str = Field(
        pattern=r"^https?://[^\s/]+", description="The service's URL (https://...), asked with POST"
    )
    auth: HttpAuth | None = Field(None, description="The header that authenticates Relais")
    send: list[FieldName] = Field(
        min_length=1, description="The canonical fields sent (none sent: the service is not asked)"
    )
    fields: dict[FieldName, str] = Field(
        min_length=1,
        description="Canonical field -> where its value is in the answer: a key, or keys "
        "joined by dots for nested objects (company.employees)",
    )


# The providers Relais has (app/enrichment/registry.py is keyed by these names).
EnrichmentProvider = Literal["email", "phone", "siren", "register", "http"]


class Enrichment(Node):
    """What Relais adds to every lead it reads, before scoring. A provider that fails or is
    too slow never holds a lead back: the lead goes on with what is known, the gap recorded."""

    providers: list[EnrichmentProvider] = Field(
        min_length=1,
        description="The providers to run on every lead: email (syntax, free-mail, "
        "disposable, role account, domain), phone (E.164 with the lead's country), siren "
        "(SIREN/SIRET check digits), register (the French company register, Recherche "
        "d'entreprises: NAF code and section, headcount band, legal category, active or "
        "closed; for a lead with a valid SIREN or SIRET), http (your own enrichment service: "
        "the http section)",
    )
    timeout_seconds: float = Field(
        2.0,
        gt=0,
        le=30,
        description="Longest wait for the providers of a batch of leads (all run at once; "
        "at most a quarter of RELAIS_WORKER_LEASE_SECONDS); past it a lead goes on without "
        "the late provider's fields and the gap is recorded",
    )
    cache_ttl_hours: float = Field(
        168,
        gt=0,
        le=24 * 366,
        description="How long an answer of the company register (register) or of your "
        "service (http) is reused from the database before it is asked again",
    )
    http: HttpEnrichment | None = Field(
        None, description="Your own enrichment service; required when providers lists http"
    )

    @model_validator(mode="after")
    def _http_when_used(self) -> Enrichment:
        if "http" in self.providers and self.http is None:
            raise ValueError("providers lists http: the http section says which service to ask")
        if "http" not in self.providers and self.http is not None:
            raise ValueError("an http section, but http is not in providers (add it, or remove it)")
        return self

    @field_validator("providers")
    @classmethod
    def _once_each(cls, providers: list[EnrichmentProvider]) -> list[EnrichmentProvider]:
        twice = sorted({p for p in providers if providers.count(p) > 1})
        if twice:
            raise ValueError(f"provider listed twice: {', '.join(twice)}")
        return providers
