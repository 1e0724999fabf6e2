"""Salesforce notifications (Outbound Messages, Flow or Apex JSON): their records and keys."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from connectors.salesforce_ids import to18

SOURCE = "salesforce"
ROUTED_OBJECTS = {"Lead", "Contact"}


def sf_record_key(sobject: str, record_id: str) -> str:
    return f"salesforce:{sobject}:{to18(record_id)}"


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
        routed = self.sobject in ROUTED_OBJECTS and self.record_id is not None
        reason = None if routed else f"object {self.sobject!r} is not routed"
        if self.record_id is not None and len(self.record_id) not in (15, 18):
            routed, reason = False, f"invalid record id {self.record_id!r}"
        return {
            "source": SOURCE,
            "dedupe_key": self.dedupe_key,
            "record_key": sf_record_key(self.sobject, self.record_id)
            if routed and self.record_id
            else None,
            "event_type": self.event_type,
            "occurred_at": self.occurred_at,
            "received_at": now,
            "available_at": now,
            "payload": {"object": self.sobject, "id": self.record_id, "fields": self.fields},
            "status": "pending" if routed else "ignored",
            "result": None if routed else f"ignored: {reason}",
            "finished_at": None if routed else now,
        }
