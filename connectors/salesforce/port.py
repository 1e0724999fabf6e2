"""The Salesforce port: what Relais needs from an org, in our own types."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

from pydantic import BaseModel, Field, SecretStr

from connectors.results import UpdateResult

COLLECTION_LIMIT = 200  # sObject Collections take at most 200 records per call
QUERY_IDS_PER_CALL = 200  # keeps the SOQL (sent in the URL) well under its length limits
OWNER_FIELD = "OwnerId"  # a user's or a queue's id


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
class RecordUpdate:
    """Fields to set on one record: the owner (``OwnerId``) and any other field, together."""

    id: str
    sobject: str
    fields: dict[str, Any]


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

    def update_records(
        self, updates: Sequence[RecordUpdate], *, deadline: float | None = None
    ) -> UpdateResult:
        """Collections of 200 with ``Sforce-Auto-Assign: FALSE``, any fields (the owner and
        others in the same call); per-record failures are returned, locked records are retried
        alone first. No call starts that could still be under way at ``deadline``
        (``time.monotonic()``)."""
        ...

    @property
    def api_usage(self) -> tuple[int, int] | None:
        """(used, allocated) from the last Sforce-Limit-Info header seen."""
        ...

    def close(self) -> None: ...


__all__ = [
    "COLLECTION_LIMIT",
    "OWNER_FIELD",
    "QUERY_IDS_PER_CALL",
    "RecordUpdate",
    "SalesforcePort",
    "SalesforceSettings",
    "SfField",
    "SfQueue",
    "SfRecord",
    "SfUser",
]
