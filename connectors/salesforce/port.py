"""The Salesforce port: what Relais needs from an org, in our own types."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

from pydantic import BaseModel, Field, SecretStr

from connectors.hubspot.port import UpdateFailure

COLLECTION_LIMIT = 200  # sObject Collections take at most 200 records per call
QUERY_IDS_PER_CALL = 200  # keeps the SOQL (sent in the URL) well under its length limits


class SalesforceSettings(BaseModel):
    login_url: str = Field("https://login.salesforce.com", description="OAuth token host")
    auth: Literal["client_credentials", "jwt", "password"] = "client_credentials"
    client_id: str
    client_secret: SecretStr | None = None
    username: str | None = None
    password: SecretStr | None = None
    security_token: SecretStr | None = None
    private_key: SecretStr | None = Field(None, description="PEM key for the JWT bearer flow")
    ca_bundle: Path | None = Field(None, description="Trust this CA (sandbox, TLS proxy)")
    api_version: str = "59.0"
    timeout_seconds: float = Field(10.0, gt=0)
    max_attempts: int = Field(3, ge=1)
    lock_retries: int = Field(5, ge=0, description="Tries for a record that is locked")
    lock_backoff_seconds: float = Field(0.2, ge=0)
    lock_budget_seconds: float = Field(
        5.0, ge=0, description="Time spent retrying locked records inline, all together"
    )


@dataclass(frozen=True)
class SfRecord:
    id: str
    sobject: str
    fields: dict[str, Any]


@dataclass(frozen=True)
class SfUser:
    id: str
    email: str
    active: bool


@dataclass(frozen=True)
class SfQueue:
    id: str
    name: str
    developer_name: str


@dataclass(frozen=True)
class SfField:
    name: str
    type: str  # string, picklist, email, int, double, reference, ...
    picklist: tuple[str, ...] = ()  # active picklist values


@dataclass(frozen=True)
class OwnerUpdate:
    id: str
    sobject: str
    owner_id: str


@dataclass
class SfUpdateResult:
    updated: list[str] = field(default_factory=list)
    failed: list[UpdateFailure] = field(default_factory=list)


class SalesforcePort(Protocol):
    """Every method raises only ``connectors.errors.CrmError`` subclasses."""

    def read_records(
        self, sobject: str, ids: Sequence[str], fields: Sequence[str]
    ) -> dict[str, SfRecord]:
        """Records by 18-character id; ids that do not exist are absent."""
        ...

    def find_by_email(
        self, sobject: str, emails: Sequence[str], fields: Sequence[str]
    ) -> list[SfRecord]:
        """Unconverted records with these emails, oldest first (CreatedDate, then Id)."""
        ...

    def list_users(self) -> list[SfUser]: ...

    def describe(self, sobject: str) -> list[SfField]:
        """The object's fields, with active picklist values (they vary per org)."""
        ...

    def list_queues(self) -> list[SfQueue]: ...

    def update_owners(
        self, updates: Sequence[OwnerUpdate], *, deadline: float | None = None
    ) -> SfUpdateResult:
        """Collections of 200 with ``Sforce-Auto-Assign: FALSE``; per-record failures are
        returned, locked records are retried alone first. No call starts that could still be
        under way at ``deadline`` (``time.monotonic()``)."""
        ...

    @property
    def api_usage(self) -> tuple[int, int] | None:
        """(used, allocated) from the last Sforce-Limit-Info header seen."""
        ...

    def close(self) -> None: ...
