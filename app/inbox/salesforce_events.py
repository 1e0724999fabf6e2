"""Salesforce notifications (Outbound Messages, Flow or Apex JSON): their records and keys.

Every field is checked at the edge (app/webhooks/edge.py): a notification breaking a rule is
rejected alone, with a reason naming the field; one about an object Relais does not route is
kept as ignored.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from app.queue import Status
from app.webhooks.edge import (
    API_NAME,
    ID_TOKEN,
    MAX_TEXT_CHARS,
    Invalid,
    RejectedEvent,
    check_text,
    check_tree,
    epoch_ms,
    int_or_token,
    kind,
    reject,
    sf_record_id,
    show,
    text,
)
from connectors.crm import SALESFORCE_OBJECTS, Crm, RecordKey
from connectors.salesforce.port import OWNER_FIELD

FIELD_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*(?:\.[A-Za-z][A-Za-z0-9_]*)*")
# The fields a rejection can be counted under (see edge.metric_label).
KNOWN_FIELDS = frozenset(
    {"Id", "ActionId", "sObject", "eventId", "object", "recordId", "changeType", "occurredAt"}
    | {"fields"}
)
MAX_KEY_CHARS = 64  # the inbox's dedupe_key column


def _inbox_key(prefix: str, ident: str) -> str:
    """``prefix:ident``, or a hash of ``ident`` when that would not fit the column."""
    key = f"{prefix}:{ident}"
    if len(key) <= MAX_KEY_CHARS:
        return key
    digest = hashlib.sha256(ident.encode()).hexdigest()
    return f"{prefix}#{digest}"[:MAX_KEY_CHARS]


@dataclass(frozen=True)
class SfNotification:
    """One notification: which record, its latest field values, and its delivery key."""

    dedupe_key: str
    sobject: str
    record_id: str | None
    fields: dict[str, Any]
    occurred_at: datetime | None
    event_type: str

    def row(self, now: datetime) -> dict[str, Any]:
        routed = self.sobject in SALESFORCE_OBJECTS and self.record_id is not None
        return {
            "crm": Crm.SALESFORCE,
            "dedupe_key": self.dedupe_key,
            "record_key": str(RecordKey.salesforce(self.sobject, self.record_id))
            if routed and self.record_id
            else None,
            "event_type": self.event_type[:64],
            "occurred_at": self.occurred_at,
            "received_at": now,
            "available_at": now,
            "payload": {"object": self.sobject, "id": self.record_id, "fields": self.fields},
            "status": Status.PENDING if routed else Status.IGNORED,
            "result": None if routed else f"ignored: object {self.sobject!r} is not routed",
            "finished_at": None if routed else now,
        }


def _notification_id(field: str, value: Any) -> str:
    if value is None or value == "":
        raise Invalid(field, "missing")
    return str(int_or_token(field, value))


def _object_name(field: str, value: Any) -> str:
    if value is None or value == "":
        raise Invalid(field, "missing")
    return text(field, value, 64, API_NAME, "an object API name")


def _field_names(path: str, fields: dict[str, Any]) -> None:
    for name in fields:
        if not isinstance(name, str) or not FIELD_NAME.fullmatch(name) or len(name) > 128:
            raise Invalid(path, f"{show(name)} is not a field API name")


def _record_id(sobject: str, field: str, value: Any) -> str | None:
    if value is None or value == "":
        if sobject in SALESFORCE_OBJECTS:
            raise Invalid(field, f"missing: a {sobject} notification names its record")
        return None
    return sf_record_id(field, value)


def parse_outbound(raw: dict[str, Any]) -> SfNotification | RejectedEvent:
    """One Notification of an Outbound Message, read from the XML as ``{"Id", "ActionId",
    "sObject": {"type", "fields"} or None}``. Never raises."""
    try:
        return _outbound(raw)
    except Invalid as exc:
        return reject(Crm.SALESFORCE, exc, raw, KNOWN_FIELDS)


def _outbound(raw: dict[str, Any]) -> SfNotification:
    nid = _notification_id("Id", raw.get("Id"))
    action = raw.get("ActionId")
    if action is not None:
        text("ActionId", action, 64, ID_TOKEN, "an ASCII id")
    sobj = raw.get("sObject")
    if not isinstance(sobj, dict):
        raise Invalid("sObject", "missing")
    sobject = _object_name("sObject.type", sobj.get("type"))
    fields: dict[str, str | None] = sobj.get("fields") or {}
    _field_names("sObject", fields)
    for name, value in fields.items():
        if value is not None:
            check_text(f"sObject.{name}", value, MAX_TEXT_CHARS)
    record_id = _record_id(sobject, "sObject.Id", fields.get("Id"))
    return SfNotification(
        dedupe_key=_inbox_key("om", nid),
        sobject=sobject,
        record_id=record_id,
        fields={**fields, "_action_id": action},
        occurred_at=None,
        event_type=f"outbound_message.{sobject}",
    )


EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)  # the same range as epoch milliseconds
LATEST = datetime(2100, 1, 1, tzinfo=UTC)


def _occurred_at(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return epoch_ms("occurredAt", value)
    stamp = text("occurredAt", value, 64)
    try:
        at = datetime.fromisoformat(stamp.replace("+0000", "+00:00"))
        at = (at if at.tzinfo else at.replace(tzinfo=UTC)).astimezone(UTC)
    except (ValueError, OverflowError):  # 9999-12-31T23:59:59-23:59 is past year 9999 in UTC
        raise Invalid("occurredAt", f"{show(stamp)} is not an ISO 8601 date-time") from None
    if not EARLIEST <= at <= LATEST:
        raise Invalid("occurredAt", f"{show(stamp)} is not a date-time between 2000 and 2100")
    return at


def parse_flow_event(event: Any) -> SfNotification | RejectedEvent:
    """One event of a Flow or Apex callout: ``{"eventId", "object", "recordId", "changeType",
    "occurredAt", "fields"}``. Never raises."""
    try:
        return _flow(event)
    except Invalid as exc:
        return reject(Crm.SALESFORCE, exc, event, KNOWN_FIELDS)


def _flow(e: Any) -> SfNotification:
    if not isinstance(e, dict):
        raise Invalid("event", f"expected a JSON object, got {kind(e)}")
    event_id = _notification_id("eventId", e.get("eventId"))
    sobject = _object_name("object", e.get("object"))
    change = e.get("changeType")
    if change is not None:
        text("changeType", change, 32, API_NAME, "a change type such as 'created'")
    occurred = _occurred_at(e.get("occurredAt"))
    raw_fields = e.get("fields")
    if raw_fields is not None and not isinstance(raw_fields, dict):
        raise Invalid("fields", f"expected a JSON object, got {kind(raw_fields)}")
    fields: dict[str, Any] = raw_fields or {}
    _field_names("fields", fields)
    check_tree(e)
    if e.get("recordId") in (None, "") and fields.get("Id") not in (None, ""):
        record_id = _record_id(sobject, "fields.Id", fields["Id"])
    else:
        record_id = _record_id(sobject, "recordId", e.get("recordId"))
    return SfNotification(
        dedupe_key=_inbox_key("flow", event_id),
        sobject=sobject,
        record_id=record_id,
        fields=fields,
        occurred_at=occurred,
        event_type=f"flow.{sobject}.{change or 'changed'}",
    )


def owner_named(payload: dict[str, Any]) -> str | None:
    """The owner id a stored notification names: it carries the record's current fields,
    the owner among them."""
    owner = (payload.get("fields") or {}).get(OWNER_FIELD)
    return str(owner) if owner else None


def notified_fields(payload: dict[str, Any]) -> dict[str, Any] | None:
    """The record's field values a stored notification carried."""
    fields = payload.get("fields")
    return dict(fields) if isinstance(fields, dict) else None
