"""One pydantic model per node of the mappings language. Unknown keys are refused; every field
is documented (the descriptions become the JSON Schema editors use)."""

from __future__ import annotations

import itertools
import re
from datetime import date, time
from typing import Annotated, Literal, NamedTuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator, model_validator

from app.mappings.fields import FIELD_NAME, FieldType, LeadField
from app.scoring.patterns import Pattern, PatternError, compile_pattern
from connectors.crm import Crm

EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
Day = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Day, ...] = ("mon", "tue", "wed", "thu", "fri")


# Bounds on the scoring model's numbers: the score is stored as a 32-bit integer, and a
# number beyond these is a typo, not a policy (docs/mappings.md, "Limits").
POINTS_LIMIT = 100_000  # a rule's points, the decay's points per month
SCORE_LIMIT = 1_000_000  # thresholds, bands, grades, levels, caps, max, max_total, floor
Points = Annotated[int, Field(ge=-POINTS_LIMIT, le=POINTS_LIMIT)]
Score = Annotated[int, Field(ge=-SCORE_LIMIT, le=SCORE_LIMIT)]
Cap = Annotated[int, Field(ge=0, le=SCORE_LIMIT)]


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
    days: list[Day] = Field(
        default_factory=lambda: list(WEEKDAYS),
        min_length=1,
        description="Working days (at least one: a rep who never works is active: false)",
    )
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
    weight: float = Field(
        1.0, ge=0, le=1000, description="Share of leads relative to others (1 = equal)"
    )
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


# -- scoring.yaml -----------------------------------------------------------------------------

FieldName = Annotated[
    str,
    Field(pattern=FIELD_NAME.pattern, description="lower-case letters, digits and '_'"),
]
Operator = Literal[
    "eq", "ne", "in", "not_in", "contains", "starts_with", "matches", "between",
    "gt", "gte", "lt", "lte", "exists", "missing",
]  # fmt: skip
ConditionValue = bool | float | str | list[str | float] | None


class Condition(Node):
    """One test on a field (``field``, ``op``, ``value``), or a group of conditions (``all``,
    ``any``, ``not``) in its place."""

    field: FieldName | None = Field(
        None, description="Canonical lead field the condition reads: built in or declared"
    )
    op: Operator | None = None
    value: ConditionValue = Field(
        None,
        description="What the field is compared with, read as the field's type (a list for "
        "in and not_in, two values for between, a regular expression for matches); none for "
        "exists/missing",
    )
    all_: list[Condition] | None = Field(
        None, alias="all", min_length=1, description="Every one of these conditions holds"
    )
    any_: list[Condition] | None = Field(
        None, alias="any", min_length=1, description="At least one of these conditions holds"
    )
    not_: Condition | None = Field(None, alias="not", description="This condition does not hold")
    _pattern: Pattern | None = PrivateAttr(None)

    def _may_be_empty(self) -> bool:
        return False

    @model_validator(mode="after")
    def _one_shape(self) -> Condition:
        shapes = [
            name
            for name, given in (
                ("field/op/value", self.field is not None or self.op is not None),
                ("all", self.all_ is not None),
                ("any", self.any_ is not None),
                ("not", self.not_ is not None),
            )
            if given
        ]
        if len(shapes) > 1 or (not shapes and not self._may_be_empty()):
            raise ValueError(
                "a condition is either field/op/value or one of all, any, not"
                + (f" (found {', '.join(shapes)})" if shapes else "")
            )
        if shapes == ["field/op/value"] and (self.field is None or self.op is None):
            raise ValueError("a condition on a field needs both field and op")
        if self.op == "matches" and isinstance(self.value, str):
            try:  # compiled once, at load: a bad pattern is refused with its line
                self._pattern = compile_pattern(self.value)
            except PatternError as exc:
                raise ValueError(f"matches: {self.value!r} {exc}") from None
        return self

    @property
    def pattern(self) -> Pattern | None:
        """The compiled regular expression of a ``matches`` condition."""
        return self._pattern


class ScoringRule(Condition):
    name: str = Field(description="Shown to reps as the reason for these points")
    points: Points = Field(
        description="Added when the rule matches (negative to subtract); with per, for each "
        "occurrence"
    )
    per: FieldName | None = Field(
        None,
        description="A number field counting occurrences (pricing-page views, ...): the points "
        "are given once per occurrence, up to max; the rule needs no other condition",
    )
    max: Cap | None = Field(None, description="With per: the most points the rule gives (or takes)")

    def _may_be_empty(self) -> bool:
        return self.per is not None

    @model_validator(mode="after")
    def _max_with_per(self) -> ScoringRule:
        if self.max is not None and self.per is None:
            raise ValueError("max applies to a counted rule only (add per: <number field>)")
        return self


class RevealingAct(Condition):
    name: str = Field(description="The act, shown as the reason the lead is sales-ready")


class Bands(Node):
    hot: Score = Field(description="From this score a lead is hot")
    warm: Score = Field(description="From this score a lead is warm")
    cold: Score = Field(description="Below warm and from this score a lead is cold")


class Caps(Node):
    """The most points each group adds (negative: the most it takes)."""

    fit: Cap | None = Field(None, description="Most points the fit rules add together")
    engagement: Cap | None = Field(
        None, description="Most points the engagement rules add together"
    )
    negative: Cap | None = Field(
        None, description="Most points the negative rules take together (a positive number)"
    )


class Decay(Node):
    field: FieldName = Field(
        LeadField.LAST_ACTIVITY.value,
        description="A date or datetime field: the lead's last activity",
    )
    points_per_month: int = Field(
        ge=-POINTS_LIMIT,
        le=-1,
        description="Points (negative) for each whole month since the field's instant",
    )
    floor: int | None = Field(
        None, ge=-SCORE_LIMIT, le=0, description="The most the decay takes (e.g. -30)"
    )


class Grades(Node):
    """The fit grade from the fit group's points: A, B, C from each score up, D below C."""

    A: Score = Field(description="Fit points from which a lead is graded A")
    B: Score = Field(description="Fit points from which a lead is graded B")
    C: Score = Field(description="Fit points from which a lead is graded C (below: D)")


class Levels(Node):
    """The engagement level from the engagement group's points: 3, 2 from each score up, 1
    below."""

    three: Score = Field(alias="3", description="Engagement points from which the level is 3")
    two: Score = Field(alias="2", description="Engagement points from which the level is 2")

    @model_validator(mode="before")
    @classmethod
    def _keys_as_text(cls, data: object) -> object:
        # YAML reads the keys 3 and 2 as numbers
        return {str(k): v for k, v in data.items()} if isinstance(data, dict) else data


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


ScoreGroup = Literal["fit", "engagement", "negative"]
GROUPS: tuple[ScoreGroup, ...] = ("fit", "engagement", "negative")


class Scoring(Node):
    threshold: Score = Field(description="Score from which a lead is sales-ready")
    bands: Bands | None = None
    fit: list[ScoringRule] | None = Field(
        None, description="Profile rules: title, company size, industry, country, ..."
    )
    rules: list[ScoringRule] | None = Field(
        None, description="The older spelling of fit (use one or the other, not both)"
    )
    engagement: list[ScoringRule] = Field(
        default_factory=list, description="Behaviour rules: visits, forms, clicks (per: counts)"
    )
    negative: list[ScoringRule] = Field(
        default_factory=list,
        description="Rules that take points (negative points): unsubscribed, hard bounce, "
        "students, free mail, ...",
    )
    caps: Caps | None = Field(None, description="The most points each group adds or takes")
    max_total: Score | None = Field(None, description="The most points a lead's score reaches")
    decay: Decay | None = Field(
        None, description="Points lost per whole month without activity (none: no decay)"
    )
    revealing: list[RevealingAct] = Field(
        default_factory=list,
        description="Acts (a quote or a demo requested, ...) that make a lead sales-ready at "
        "once, whatever its score",
    )
    grades: Grades | None = Field(None, description="Fit grade A-D (none: no grade)")
    levels: Levels | None = Field(None, description="Engagement level 1-3 (none: no level)")
    write: ScoreWrite | None = Field(
        None,
        description="Where each CRM shows the score, written with the decision (with the "
        "owner when there is one)",
    )

    def groups(self) -> tuple[tuple[ScoreGroup, str, list[ScoringRule]], ...]:
        """Each group, the key its rules are under in scoring.yaml, and its rules."""
        fit_key = "rules" if self.fit is None and self.rules is not None else "fit"
        fit = self.fit if self.fit is not None else self.rules or []
        return (
            ("fit", fit_key, fit),
            ("engagement", "engagement", self.engagement),
            ("negative", "negative", self.negative),
        )


# -- routing.yaml -----------------------------------------------------------------------------

# What a routing rule may read besides the lead's fields: the evaluation of the lead.
PSEUDO_FIELDS: dict[str, FieldType] = {"score": "number", "grade": "text", "temperature": "text"}
# The values a pseudo-field takes (a rule comparing with anything else could never match).
PSEUDO_VALUES: dict[str, tuple[str, ...]] = {
    "grade": ("A", "B", "C", "D"),
    "temperature": ("hot", "warm", "cold"),
}
TargetKind = Literal["pool", "rep", "queue"]


class Target(NamedTuple):
    """Where a rule (or the fallback) sends a lead: a pool, a rep (email) or a queue."""

    kind: TargetKind
    name: str


class RepOrQueue(Node):
    """Names exactly one target: a rep or a queue (a rule's target may also be a pool)."""

    rep: str | None = Field(None, description="The email of a rep of team.yaml")
    queue: str | None = Field(
        None, description="A queue of team.yaml (a Salesforce Queue; a HubSpot team)"
    )

    def _kinds(self) -> tuple[TargetKind, ...]:
        return ("rep", "queue")

    @field_validator("rep")
    @classmethod
    def _lower(cls, value: str | None) -> str | None:
        return value.lower() if value is not None else None

    @model_validator(mode="after")
    def _one_target(self) -> RepOrQueue:
        given = [k for k in self._kinds() if getattr(self, k) is not None]
        if len(given) != 1:
            found = f" (found {', '.join(given)})" if given else ""
            *others, last = self._kinds()
            raise ValueError(f"expected exactly one target: {', '.join(others)} or {last}{found}")
        return self

    @property
    def target(self) -> Target:
        kind = next(k for k in self._kinds() if getattr(self, k) is not None)
        return Target(kind, getattr(self, kind))


class Fallback(RepOrQueue):
    """Who receives a lead nobody else can take: a rep or a queue."""


class RoutingRule(RepOrQueue):
    name: str = Field(description="Recorded in the decision and shown in its explanation")
    pool: str | None = Field(None, description="A pool of this file")
    when: list[Condition] | None = Field(
        None,
        min_length=1,
        description="Every condition must hold (each a field/op/value or an all, any or not "
        "group; fields: the lead's, plus score, grade and temperature). None: the default "
        "rule, which takes every lead and comes last",
    )
    account_owner_first: bool | None = Field(
        None,
        description="The company's owner first, when available (not supported yet: the "
        "company's owner is not looked up)",
    )
    when_nobody: Literal["fallback", "hold"] = Field(
        "fallback",
        description="When no one of the target can take the lead: fallback (to routing.yaml's "
        "fallback at once) or hold (until someone eligible is available)",
    )

    def _kinds(self) -> tuple[TargetKind, ...]:
        return ("pool", "rep", "queue")


PoolType = Literal["round_robin", "weighted", "least_loaded"]


class PoolBase(Node):
    name: str = Field(description="Unique pool name, recorded in every decision")
    description: str = ""
    members: list[str] = Field(default_factory=list, description="Emails of reps from team.yaml")
    members_from_segment: str | None = Field(
        None,
        description="Instead of members: every rep of team.yaml whose segments include this "
        "one (a rep added there joins the pool)",
    )

    @field_validator("members")
    @classmethod
    def _lower(cls, value: list[str]) -> list[str]:
        return [m.lower() for m in value]

    @model_validator(mode="after")
    def _members_one_way(self) -> PoolBase:
        if self.members and self.members_from_segment is not None:
            raise ValueError("members or members_from_segment, not both")
        return self

    def members_in(self, team: Team) -> list[str]:
        """The pool's members: those listed, or the reps of the segment (team.yaml order)."""
        if self.members_from_segment is None:
            return list(self.members)
        return [r.email for r in team.reps if self.members_from_segment in r.segments]


class RoundRobinPool(PoolBase):
    type: Literal["round_robin"] = Field(description="Equal rotation, least-assigned first")


class WeightedPool(PoolBase):
    type: Literal["weighted"] = Field(
        description="Each member's share follows their weight in team.yaml (0: none)"
    )


class LeastLoadedPool(PoolBase):
    type: Literal["least_loaded"] = Field(
        description="Fewest open leads relative to capacity first"
    )


Pool = Annotated[RoundRobinPool | WeightedPool | LeastLoadedPool, Field(discriminator="type")]


class ReasonFields(Node):
    """A text property or field per CRM object (one the admin created) that Relais writes a
    line of words to: why a lead has its qualification outcome, or why it is the rep's."""

    hubspot: str | None = Field(None, description="HubSpot contact property (text)")
    salesforce_lead: str | None = Field(None, description="Salesforce Lead field (text)")
    salesforce_contact: str | None = Field(None, description="Salesforce Contact field (text)")


class Routing(Node):
    pools: list[Pool] = Field(default_factory=list, description="Pools of reps rules send to")
    explain: ReasonFields | None = Field(
        None,
        description="The property or field of each CRM object that receives, with the owner, "
        "why the lead is the rep's: the rule, the pool, the rotation and the score",
    )
    rules: list[RoutingRule] | None = Field(
        None,
        description="In order, the first rule whose conditions all hold sends the lead to its "
        "target; the last rule, without when, is the default",
    )
    default_pool_: str | None = Field(
        None,
        alias="default_pool",
        description="Without rules: the pool every lead goes to (with rules: the default rule)",
    )
    fallback: Fallback | None = Field(
        None,
        description="Who receives a lead when no one of its target can take it (a rep or a "
        "queue); must exist in the CRMs",
    )
    fallback_owner_: str | None = Field(
        None,
        alias="fallback_owner",
        description="The older spelling of fallback: {rep: EMAIL} (use one or the other)",
    )

    @property
    def default_pool(self) -> str | None:
        """The pool of leads no rule takes: default_pool, or the default rule's pool."""
        if self.default_pool_ is not None:
            return self.default_pool_
        default = self.rules[-1] if self.rules else None
        return default.pool if default is not None and default.when is None else None

    @property
    def fallback_owner(self) -> str | None:
        """The fallback rep's email (fallback_owner, or fallback: {rep: ...}), lower case."""
        if self.fallback_owner_ is not None:
            return self.fallback_owner_.lower()
        return self.fallback.rep if self.fallback is not None else None


# -- qualification.yaml -----------------------------------------------------------------------

QualificationOutcome = Literal["disqualified", "incomplete", "nurture", "ready"]


class QualificationRule(Node):
    name: str = Field(description="The reason recorded in the decision and shown to admins")
    outcome: QualificationOutcome = Field(
        description="disqualified (out of target), incomplete (stays in marketing until "
        "completed), nurture (not ready yet) or ready (routed to a rep)"
    )
    when: list[Condition] = Field(
        min_length=1,
        description="Every condition must hold for the rule to apply (each a field/op/value "
        "or an all, any or not group)",
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
    reason: ReasonFields | None = Field(
        None,
        description="The property or field of each CRM object that receives the outcome's "
        "reason in words ('disqualified: A student (no purchasing power)'), with the "
        "outcome's values",
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


# Where an enriched value may be written: a CRM (each of its objects whose field fields.yaml
# maps) or one object.
WriteTarget = Literal["hubspot", "salesforce", "salesforce_lead", "salesforce_contact"]


class EnrichmentSync(Node):
    """One enriched field written back to the CRMs: to the property or field that fields.yaml
    maps it to on each object named, with the decision."""

    field: FieldName = Field(
        description="A field enrichment.yaml's providers set (phone_e164, naf_code, "
        "company_active, email, ..., or one of the http provider's fields), mapped in "
        "fields.yaml on each object it is written to"
    )
    to: list[WriteTarget] = Field(
        min_length=1,
        description="Where it is written: hubspot (contacts), salesforce (Leads and Contacts), "
        "salesforce_lead or salesforce_contact",
    )
    overwrite: bool = Field(
        False,
        description="Replace a value the CRM already holds (one a person entered)? false: "
        "written only where the CRM's property or field is empty",
    )

    def writes_to(self, crm: Crm, sobject: str) -> bool:
        """This entry names the CRM object (the CRM, or the object's own section)."""
        return crm.value in self.to or OBJECT_SECTIONS.get((crm, sobject)) in self.to


class Sync(Node):
    owner: OwnerSync = Field(default_factory=OwnerSync)
    fields: list[FieldSync] = Field(default_factory=list)
    enrichment: list[EnrichmentSync] = Field(
        default_factory=list,
        description="The enriched values written back to the CRMs (none: enrichment stays in "
        "Relais); each field once",
    )


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
# The fields each provider may set (the http provider: its section's ``fields``). The providers
# read their own from here, and sync.yaml's enrichment entries are checked against it.
PROVIDER_FIELDS: dict[EnrichmentProvider, tuple[str, ...]] = {
    "email": (
        LeadField.EMAIL, LeadField.EMAIL_VALID, LeadField.EMAIL_DOMAIN, LeadField.EMAIL_FREE,
        LeadField.EMAIL_DISPOSABLE, LeadField.EMAIL_ROLE,
    ),
    "phone": (LeadField.PHONE_E164, LeadField.PHONE_VALID),
    "siren": (LeadField.SIREN, LeadField.SIRET, LeadField.SIREN_VALID, LeadField.SIRET_VALID),
    "register": (
        LeadField.COMPANY_ACTIVE, LeadField.NAF_CODE, LeadField.NAF_SECTION,
        LeadField.HEADCOUNT_BAND, LeadField.LEGAL_CATEGORY,
    ),
    "http": (),
}  # fmt: skip


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

    def fields_set(self) -> set[str]:
        """Every field the providers turned on may set."""
        http = set(self.http.fields) if self.http is not None else set()
        return http.union(*(map(str, PROVIDER_FIELDS[p]) for p in self.providers))
