"""GET /admin/api/dead-letters and POST /admin/api/dead-letters/replay (the service behind
them is the one `relais dead-letters` uses)."""

from __future__ import annotations

from typing import Annotated

import structlog
from fastapi import APIRouter, Query

from app.db import utcnow
from app.deadletters.schemas import DeadLetters, ReplayRequest, ReplayResult
from app.deadletters.service import list_dead_letters, replay
from app.deps import AdminDep, RuntimeDep

log = structlog.get_logger("relais.deadletters")
router = APIRouter(prefix="/admin/api", dependencies=[AdminDep])


@router.get("/dead-letters", response_model=DeadLetters)
def dead_letters(
    runtime: RuntimeDep,
    limit: Annotated[int, Query(ge=1, le=1000, description="At most this many of each")] = 100,
) -> DeadLetters:
    """Inbox events and outbox writes that failed every attempt, and events the webhooks
    rejected (a value broke a rule: they cannot be replayed), with their errors."""
    with runtime.db.transaction() as session:
        return list_dead_letters(session, limit)


@router.post("/dead-letters/replay", response_model=ReplayResult)
def replay_dead_letters(request: ReplayRequest, runtime: RuntimeDep) -> ReplayResult:
    """Give dead-lettered events or writes a fresh set of attempts (``{"all": true}``: every
    one). Ids that are not dead-lettered, rejected events among them, come back in
    ``refused`` with the reason."""
    with runtime.db.transaction() as session:
        result = replay(session, request, utcnow())
    log.info(
        "dead_letters.replayed",
        inbox=result.inbox,
        outbox=result.outbox,
        refused=len(result.refused),
    )
    if result.inbox:
        runtime.wakeup.set()
    if result.outbox:
        runtime.outbox_wakeup.set()
    return result
