"""The writes a stage queues: built here, so the stages never know the outbox's columns."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from app.outbox.models import OutboxWrite
from connectors.crm import Crm, RecordKey
from connectors.hubspot.port import OWNER_PROPERTY


def owner_write(
    key: RecordKey,
    owner_id: str,
    decision_id: int | None,
    now: datetime,
    *,
    owner_before: str | None = None,
    before_known: bool = False,
) -> OutboxWrite:
    """Set the owner of ``key``. ``owner_before``: the owner the record had when we decided,
    kept so that a write sent again can tell a change made after the decision from the owner
    it always had (``before_known`` False: not recorded)."""
    props: dict[str, Any] = (
        {OWNER_PROPERTY: owner_id}
        if key.crm is Crm.HUBSPOT
        else {"OwnerId": owner_id, "sobject": key.sobject}
    )
    if before_known:
        props["owner_before"] = owner_before
    return OutboxWrite(
        connector=key.crm.value,
        record_key=str(key),
        object_id=key.id,
        properties=props,
        decision_id=decision_id,
        created_at=now,
        available_at=now,
    )
