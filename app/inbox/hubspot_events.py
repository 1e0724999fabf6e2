"""HubSpot webhook events: what each one is, which record it concerns, and its inbox key.

Every field is checked at the edge (app/webhooks/edge.py): an event breaking a rule is
rejected alone, with a reason naming the field; an event of a kind Relais does not route is
kept as ignored. Only the rest is processed.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from app.queue import Status
from app.webhooks.edge import (
    ID_TOKEN,
    Invalid,
    RejectedEvent,
    check_tree,
    decimal_id,
    digest,
    epoch_ms,
    int_or_token,
    kind,
    reject,
    scalar,
    text,
)
from connectors.crm import Crm, RecordKey
from connectors.hubspot.port import OWNER_PROPERTY

CONTACT_TYPE_ID = "0-1"
ROUTED = {"creation", "propertyChange"}
# Properties Relais writes: a change to one of them made by our own app is our echo.
WRITTEN_BY_RELAIS = {OWNER_PROPERTY}
MAX_PROPERTY_VALUE_CHARS = 65_536  # HubSpot's own limit on a property value
TYPE_NAME = re.compile(r"[A-Za-z0-9_.]+")
CODE = re.compile(r"[A-Za-z0-9_.-]+")


@dataclass(frozen=True)
class ParsedEvent:
    dedupe_key: str
    record_key: str | None
    event_type: str
    occurred_at: datetime | None
    ignored_because: str | None  # None: to be processed

    def row(self, payload: dict[str, Any], now: datetime) -> dict[str, Any]:
        """The inbox row of this event (``payload``: the event as HubSpot sent it)."""
        ignored = self.ignored_because
        return {
            "crm": Crm.HUBSPOT,
            "dedupe_key": self.dedupe_key,
            "record_key": self.record_key,
            "event_type": self.event_type,
            "occurred_at": self.occurred_at,
            "received_at": now,
            "available_at": now,
            "payload": payload,
            "status": Status.IGNORED if ignored else Status.PENDING,
            "result": f"ignored: {ignored}" if ignored else None,
            "finished_at": now if ignored else None,
        }


def _type_name(field: str, value: Any) -> str:
    return text(field, value, 64, TYPE_NAME, "a type name (ASCII letters, digits, '_' and '.')")


# One rule per field HubSpot documents; a field absent or null is not checked here. Fields
# not listed (changeFlag, mergedObjectIds, ...) only pass the generic checks of check_tree.
FIELD_RULES: dict[str, Callable[[str, Any], object]] = {
    "subscriptionType": _type_name,
    "eventType": _type_name,
    "objectId": decimal_id,
    "objectTypeId": lambda f, v: text(f, v, 32, CODE, "an object type id such as '0-1'"),
    "occurredAt": epoch_ms,
    "portalId": int_or_token,
    "appId": int_or_token,
    "eventId": int_or_token,
    "subscriptionId": int_or_token,
    "attemptNumber": int_or_token,
    "propertyName": lambda f, v: text(f, v, 128, ID_TOKEN, "a property name"),
    "propertyValue": lambda f, v: scalar(f, v, MAX_PROPERTY_VALUE_CHARS),
    "changeSource": lambda f, v: text(f, v, 64, CODE, "a change source such as 'CRM_UI'"),
    "sourceId": lambda f, v: text(f, v, 256),
}


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


def _rejected_key(event: Any) -> str:
    # A redelivery carries another attemptNumber: leave it out, as for the good events.
    if isinstance(event, dict):
        return digest({k: v for k, v in event.items() if k != "attemptNumber"})
    return digest(event)


def parse_event(event: Any) -> ParsedEvent | RejectedEvent:
    """Classify one element of a webhook batch: to process, ignored (a kind Relais does not
    route, kept with the reason) or rejected (a value breaks a rule). Never raises."""
    try:
        return _classify(event)
    except Invalid as exc:
        return reject(Crm.HUBSPOT, exc, event, FIELD_RULES, _rejected_key(event))


def _classify(event: Any) -> ParsedEvent:
    if not isinstance(event, dict):
        raise Invalid("event", f"expected a JSON object, got {kind(event)}")
    for name, rule in FIELD_RULES.items():
        if event.get(name) is not None:
            rule(name, event[name])
    check_tree(event)
    event_type = event.get("subscriptionType") or event.get("eventType")
    if not event_type:
        raise Invalid("subscriptionType", "missing (and no eventType either)")
    raw_ts = event.get("occurredAt")
    occurred_at = epoch_ms("occurredAt", raw_ts) if raw_ts is not None else None
    key = _dedupe_key(event, event_type)
    object_type, _, action = event_type.partition(".")
    is_contact = object_type == "contact" or (
        object_type == "object" and event.get("objectTypeId") == CONTACT_TYPE_ID
    )
    if not is_contact or action not in ROUTED:
        return ParsedEvent(
            key, None, event_type, occurred_at, f"subscription type {event_type!r} is not routed"
        )
    if event.get("objectId") is None:
        raise Invalid("objectId", f"missing: a {event_type} event names its contact")
    record_key = str(RecordKey.hubspot(decimal_id("objectId", event["objectId"])))
    if (
        action == "propertyChange"
        and event.get("changeSource") == "INTEGRATION"
        and event.get("appId") is not None
        and str(event.get("sourceId")) == str(event.get("appId"))
        and event.get("propertyName") in WRITTEN_BY_RELAIS
    ):
        return ParsedEvent(key, record_key, event_type, occurred_at, "echo of a Relais write")
    return ParsedEvent(key, record_key, event_type, occurred_at, None)


def owner_named(payload: dict[str, Any]) -> str | None:
    """The owner id a stored event names, if it does: a ``propertyChange`` names one property,
    and only the owner's says who owns the contact."""
    if payload.get("propertyName") != OWNER_PROPERTY:
        return None
    value = payload.get("propertyValue")
    return str(value) if value else None


def notified_fields(payload: dict[str, Any]) -> dict[str, Any] | None:
    """None: a HubSpot webhook names the contact and one property, never the record's values."""
    return None
