"""One pydantic model per node of the mappings language. Unknown keys are refused."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from app.mappings.fields import LeadField

EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class Node(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Rep(Node):
    email: str = Field(description="The rep's login email: identifies them in every CRM")
    name: str = Field(description="Full name, as shown in decisions and reports")
    active: bool = Field(True, description="Inactive reps receive no new leads")

    @field_validator("email")
    @classmethod
    def _email(cls, value: str) -> str:
        if not EMAIL_RE.match(value):
            raise ValueError(f"expected an email address, found {value!r}")
        return value.lower()


class Team(Node):
    reps: list[Rep] = Field(description="Every sales rep Relais may assign leads to")


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
    owner_source_of_truth: Literal["salesforce", "hubspot"] = Field(
        "salesforce",
        description="When the owner of a linked lead changes in a CRM, the change is copied "
        "to the other CRM only if it was made in this one",
    )


Operator = Literal["eq", "ne", "in", "contains", "gt", "gte", "lt", "lte", "exists", "missing"]


class ScoringRule(Node):
    name: str = Field(description="Shown to reps as the reason for these points")
    field: LeadField = Field(description="Canonical lead field the rule reads")
    op: Operator
    value: str | float | list[str] | None = Field(None, description="Not used by exists/missing")
    points: int = Field(description="Added when the rule matches (negative to subtract)")


class Scoring(Node):
    threshold: int = Field(description="Score from which a lead is sales-ready")
    rules: list[ScoringRule] = Field(default_factory=list)
