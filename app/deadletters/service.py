"""Listing and replaying dead letters: one place for `relais dead-letters` and the admin API.

Dead items failed every attempt and can be given a fresh set. Rejected events were refused at
the webhook because a value broke a rule: replaying one would fail the same way, so replay
refuses it and says so; the CRM has to send the event again, fixed.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from app.deadletters.schemas import (
    DeadLetter,
    DeadLetters,
    Queue,
    Refusal,
    ReplayRequest,
    ReplayResult,
)
from app.inbox.models import InboxEvent
from app.inbox.repository import InboxRepository
from app.outbox.models import OutboxWrite
from app.outbox.repository import OutboxRepository
from app.queue import Status, statuses_of

REPLAY_ALL_LIMIT = 1_000_000
REJECTED_NOT_REPLAYABLE = (
    "rejected at the webhook: a value broke a rule of the edge (see its reason), so a replay "
    "would be rejected the same way; the CRM has to send the event again, fixed"
)


def _inbox_letter(e: InboxEvent) -> DeadLetter:
    rejected = e.status == Status.REJECTED
    return DeadLetter(
        queue="inbox",
        id=e.id or 0,
        status=e.status,
        crm=e.crm,
        record_key=e.record_key,
        event_type=e.event_type,
        attempts=e.attempts,
        error=(e.result or "").removeprefix("rejected: ") if rejected else e.last_error,
        at=e.finished_at or e.received_at,
        payload=e.payload,
        replayable=not rejected,
    )


def _outbox_letter(w: OutboxWrite) -> DeadLetter:
    return DeadLetter(
        queue="outbox",
        id=w.id or 0,
        status=w.status,
        crm=w.crm,
        record_key=w.record_key,
        attempts=w.attempts,
        error=w.last_error,
        at=w.created_at,
        payload=w.fields,
        write={"kind": w.kind, "sobject": w.sobject}
        | ({"owner_before": w.owner_before} if w.before_known else {}),
        replayable=True,
    )


def list_dead_letters(session: Session, limit: int = 100) -> DeadLetters:
    """Up to ``limit`` of each kind, with the totals."""
    inbox = InboxRepository(session)
    outbox = OutboxRepository(session)
    in_counts, out_counts = inbox.counts(), outbox.counts()
    return DeadLetters(
        inbox=[_inbox_letter(e) for e in inbox.dead(limit)],
        outbox=[_outbox_letter(w) for w in outbox.dead(limit)],
        rejected=[_inbox_letter(e) for e in inbox.rejected(limit)],
        totals={
            "inbox": in_counts.get(Status.DEAD, 0),
            "outbox": out_counts.get(Status.DEAD, 0),
            "rejected": in_counts.get(Status.REJECTED, 0),
        },
    )


def _sort_out(
    session: Session, model: Any, queue: Queue, ids: Sequence[int]
) -> tuple[list[int], list[Refusal]]:
    """The ids that are dead-lettered, and a refusal saying why for each of the others."""
    statuses = statuses_of(session, model, ids)
    name = "event" if queue == "inbox" else "write"
    replay, refused = [], []
    for i in dict.fromkeys(ids):  # each id once, in the order given
        status = statuses.get(i)
        if status == Status.DEAD:
            replay.append(i)
        elif status is None:
            refused.append(Refusal(queue=queue, id=i, reason=f"no {queue} {name} has this id"))
        elif status == Status.REJECTED:
            refused.append(Refusal(queue=queue, id=i, reason=REJECTED_NOT_REPLAYABLE))
        else:
            reason = f"not dead-lettered (its status is {status}): nothing to replay"
            refused.append(Refusal(queue=queue, id=i, reason=reason))
    return replay, refused


def replay(session: Session, request: ReplayRequest, now: datetime) -> ReplayResult:
    """Give the dead-lettered items asked for a fresh set of attempts; refuse the others."""
    inbox, outbox = InboxRepository(session), OutboxRepository(session)
    if request.replay_all:
        inbox_ids = [e.id for e in inbox.dead(REPLAY_ALL_LIMIT) if e.id is not None]
        outbox_ids = [w.id for w in outbox.dead(REPLAY_ALL_LIMIT) if w.id is not None]
        refused: list[Refusal] = []
    else:
        inbox_ids, refused_in = _sort_out(session, InboxEvent, "inbox", request.inbox)
        outbox_ids, refused_out = _sort_out(session, OutboxWrite, "outbox", request.outbox)
        refused = refused_in + refused_out
    return ReplayResult(
        inbox=inbox.replay(inbox_ids, now),
        outbox=outbox.replay(outbox_ids, now),
        refused=refused,
    )
