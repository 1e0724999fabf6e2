"""The writes a stage queues: built here, so the stages never know the outbox's columns."""

from __future__ import annotations

from datetime import datetime

from app.outbox.models import OutboxWrite, WriteKind
from connectors.crm import Crm, RecordKey
from connectors.hubspot.port import OWNER_PROPERTY
from connectors.salesforce.port import OWNER_FIELD

# The field holding a record's owner, in each CRM.
OWNER_FIELDS = {Crm.HUBSPOT: OWNER_PROPERTY, Crm.SALESFORCE: OWNER_FIELD}


def owner_write(
    key: RecordKey,
    owner_id: str,
    decision_id: int | None,
    now: datetime,
    *,
    owner_before: str | None = None,
    before_known: bool = False,
    also: dict[str, str | None] | None = None,
) -> OutboxWrite:
    """Set the owner of ``key``. ``owner_before``: the owner the record had when we decided,
    kept so that a write sent again can tell a change made after the decision from the owner
    it always had (``before_known`` False: not recorded). ``also``: other fields set in the
    same call (a superseded owner write does not send them either)."""
    return _write(
        key,
        WriteKind.OWNER,
        {**(also or {}), OWNER_FIELDS[key.crm]: owner_id},
        decision_id,
        now,
        owner_before=(owner_before or None) if before_known else None,
        before_known=before_known,
    )


def fields_write(
    key: RecordKey, fields: dict[str, str | None], decision_id: int | None, now: datetime
) -> OutboxWrite:
    """Set these fields of ``key`` (None clears one): values, sent again as they are. The
    owner is not one of them: it goes through ``owner_write``, judged before it is sent again."""
    if not fields:
        raise ValueError(f"a fields write to {key} sets no field")
    if OWNER_FIELDS[key.crm].lower() in {name.lower() for name in fields}:
        raise ValueError(f"the owner of {key} is set by owner_write, not by a fields write")
    return _write(key, WriteKind.FIELDS, dict(fields), decision_id, now)


def _write(
    key: RecordKey,
    kind: WriteKind,
    fields: dict[str, str | None],
    decision_id: int | None,
    now: datetime,
    *,
    owner_before: str | None = None,
    before_known: bool = False,
) -> OutboxWrite:
    return OutboxWrite(
        crm=key.crm,
        kind=kind,
        record_key=str(key),
        sobject=key.sobject,
        object_id=key.id,
        fields=fields,
        owner_before=owner_before,
        before_known=before_known,
        decision_id=decision_id,
        created_at=now,
        available_at=now,
    )
