"""HubSpot webhook events: what each one is, which record it concerns, and its inbox key."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from connectors.hubspot.port import OWNER_PROPERTY

SOURCE = "hubspot"
CONTACT_TYPE_ID = "0-1"
ROUTED = {"creation", "propertyChange"}
# Properties Relais writes: a change to one of them made by our own app is our echo.
WRITTEN_BY_RELAIS = {OWNER_PROPERTY}


@dataclass(frozen=True)
class ParsedEvent:
    dedupe_key: str
    record_key: str | None
    event_type: str
    occurred_at: datetime | None
    ignored_because: str | None  # None: to be processed


def contact_record_key(object_id: str | int) -> str:
    return f"hubspot:contact:{object_id}"


def _dedupe_key(event: dict[str, Any], event_type: str) -> str:
    # eventId alone is not unique in HubSpot deliveries; attemptNumber changes on redelivery
    # and so is left out.
    parts = [
        event.get("portalId"),
        event_type,
        event.get("objectTypeId"),
        event.get("objectId"),
        event.get("propertyName"),
        event.get("propertyValue"),
        event.get("occurredAt"),
        event.get("eventId"),
        event.get("subscriptionId"),
    ]
    return hashlib.sha256(repr(parts).encode()).hexdigest()


def parse_event(event: Any) -> ParsedEvent:
    """Classify one element of a webhook batch. Never raises: odd events are kept as ignored."""
    if not isinstance(event, dict):
        return ParsedEvent(
            hashlib.sha256(repr(event).encode()).hexdigest(),
            None,
            "malformed",
            None,
            "not a JSON object",
        )
    event_type = str(event.get("subscriptionType") or event.get("eventType") or "unknown")
    occurred_at = None
    raw_ts = event.get("occurredAt")
    if isinstance(raw_ts, int | float) and not isinstance(raw_ts, bool):
        try:
            occurred_at = datetime.fromtimestamp(raw_ts / 1000, UTC)
        except (OverflowError, OSError, ValueError):
            occurred_at = None
    key = _dedupe_key(event, event_type)
    object_type, _, action = event_type.partition(".")
    object_id = event.get("objectId")
    is_contact = object_type == "contact" or (
        object_type == "object" and str(event.get("objectTypeId")) == CONTACT_TYPE_ID
    )
    if not is_contact or action not in ROUTED:
        return ParsedEvent(
            key, None, event_type, occurred_at, f"subscription type {event_type!r} is not routed"
        )
    if not isinstance(object_id, int | str) or not str(object_id).isdigit():
        return ParsedEvent(key, None, event_type, occurred_at, "missing or invalid objectId")
    if (
        action == "propertyChange"
        and event.get("changeSource") == "INTEGRATION"
        and event.get("appId") is not None
        and str(event.get("sourceId")) == str(event.get("appId"))
        and event.get("propertyName") in WRITTEN_BY_RELAIS
    ):
        return ParsedEvent(
            key, contact_record_key(object_id), event_type, occurred_at, "echo of a Relais write"
        )
    return ParsedEvent(key, contact_record_key(object_id), event_type, occurred_at, None)
