"""The HubSpot port: what Relais needs from HubSpot, in our own types (the SDK has no py.typed)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from pydantic import BaseModel, Field, SecretStr

from connectors.results import UpdateResult

BATCH_LIMIT = 100  # HubSpot refuses more than 100 inputs per batch call
OWNER_PROPERTY = "hubspot_owner_id"


class HubSpotSettings(BaseModel):
    base_url: str = "https://api.hubapi.com"
    access_token: SecretStr
    timeout_seconds: float = Field(10.0, gt=0)
    max_attempts: int = Field(3, ge=1, description="Tries per call before the worker takes over")
    requests_per_10s: int = Field(
        150,
        ge=1,
        description="Client-side budget per rolling 10 s (HubSpot allows 100 or 190 "
        "per app, shared by every process of this app: split it between processes)",
    )
    rate_limit_wait_seconds: float = Field(
        10.0, gt=0, description="Wait after a TEN_SECONDLY_ROLLING 429 sent without Retry-After"
    )
    max_inline_wait_seconds: float = Field(
        5.0,
        ge=0,
        description="Longest back-off spent inside one call; longer waits go back "
        "to the queue so a worker is not blocked",
    )


@dataclass(frozen=True)
class Contact:
    id: str
    properties: dict[str, str | None]


@dataclass(frozen=True)
class Owner:
    id: str  # the owner id: what hubspot_owner_id takes (never the userId)
    email: str
    first_name: str | None = None
    last_name: str | None = None
    user_id: int | None = None
    archived: bool = False


@dataclass(frozen=True)
class PropertyInfo:
    name: str
    type: str  # string, number, enumeration, datetime, bool, ...
    options: tuple[str, ...] = ()  # internal values of an enumeration


@dataclass(frozen=True)
class ContactUpdate:
    id: str
    properties: dict[str, str]


@dataclass
class ReadResult:
    found: dict[str, Contact] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)


class HubSpotPort(Protocol):
    """Every method raises only ``connectors.errors.CrmError`` subclasses."""

    def read_contacts(self, ids: Sequence[str], properties: Sequence[str]) -> ReadResult:
        """Batch-read contacts, 100 per call; ids that do not exist come back in ``missing``."""
        ...

    def read_contacts_by_email(
        self, emails: Sequence[str], properties: Sequence[str]
    ) -> dict[str, Contact]:
        """lower-cased email -> contact (HubSpot keeps one contact per email), 100 per call."""
        ...

    def list_owners(self) -> list[Owner]:
        """Every active (non-archived) owner, all pages."""
        ...

    def contact_properties(self) -> list[PropertyInfo]:
        """Every contact property, with the options of enumerations (they vary per account)."""
        ...

    def update_contacts(
        self, updates: Sequence[ContactUpdate], *, deadline: float | None = None
    ) -> UpdateResult:
        """Batch-update contacts, 100 per call, any properties (the owner and others in the same
        call); per-record failures are returned, not raised.
        No call starts that could still be under way at ``deadline`` (``time.monotonic()``)."""
        ...

    def close(self) -> None: ...


__all__ = [
    "BATCH_LIMIT",
    "OWNER_PROPERTY",
    "Contact",
    "ContactUpdate",
    "HubSpotPort",
    "HubSpotSettings",
    "Owner",
    "PropertyInfo",
    "ReadResult",
]
