from __future__ import annotations

from datetime import datetime
from typing import Annotated

import structlog
from fastapi import APIRouter, Depends, HTTPException, Query, Request, status
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from app.db import utcnow
from app.deadletters.schemas import DeadLetters, ReplayRequest, ReplayResult
from app.deadletters.service import list_dead_letters, replay
from app.mappings.loader import Mappings, MappingsError
from app.runtime import Runtime
from app.security import bearer_matches
from app.webhooks.hubspot import get_runtime

log = structlog.get_logger("relais.admin")


def require_admin(request: Request, runtime: Annotated[Runtime, Depends(get_runtime)]) -> None:
    """401 unless the request carries one of RELAIS_ADMIN_TOKENS (compared in constant time).
    No token configured means the admin API is closed, never open."""
    header = request.headers.get("authorization", "")
    if not bearer_matches(header, runtime.settings.admin_token_list()):
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "a valid admin bearer token is needed",
            headers={"WWW-Authenticate": "Bearer"},
        )


router = APIRouter(prefix="/admin/api", dependencies=[Depends(require_admin)])


class MappingsInfo(BaseModel):
    version: str
    source: str
    files: list[str]
    loaded_at: datetime | None


def _info(m: Mappings, loaded_at: datetime | None) -> MappingsInfo:
    return MappingsInfo(
        version=m.version, source=m.source, files=list(m.files), loaded_at=loaded_at
    )


@router.get("/mappings", response_model=MappingsInfo)
def active_mappings(runtime: Annotated[Runtime, Depends(get_runtime)]) -> MappingsInfo:
    """The mappings version every new decision is made with, and where it was read from."""
    return _info(runtime.mappings.current, runtime.mappings.loaded_at)


@router.post(
    "/mappings/reload",
    response_model=MappingsInfo,
    responses={
        422: {"description": "the new files do not validate; the previous version keeps serving"}
    },
)
async def reload_mappings(runtime: Annotated[Runtime, Depends(get_runtime)]) -> JSONResponse:
    """Re-read RELAIS_MAPPINGS_DIR. A version that does not validate is refused with its errors
    and the service keeps running on the last good one."""
    before = runtime.mappings.current.version
    try:
        fresh = await run_in_threadpool(runtime.mappings.reload)
    except Exception as exc:  # MappingsError, or anything unexpected: keep serving
        errors = exc.errors if isinstance(exc, MappingsError) else [repr(exc)]
        log.warning("mappings.reload_refused", errors=len(errors), active=before)
        return JSONResponse(
            status_code=422,
            content={
                "detail": "the mappings do not validate; the active version is unchanged",
                "active_version": before,
                "errors": errors,
            },
        )
    log.info("mappings.reloaded", version=fresh.version, previous=before)
    return JSONResponse(_info(fresh, runtime.mappings.loaded_at).model_dump(mode="json"))


@router.get("/dead-letters", response_model=DeadLetters)
def dead_letters(
    runtime: Annotated[Runtime, Depends(get_runtime)],
    limit: Annotated[int, Query(ge=1, le=1000, description="At most this many of each")] = 100,
) -> DeadLetters:
    """Inbox events and outbox writes that failed every attempt, and events the webhooks
    rejected (a value broke a rule: they cannot be replayed), with their errors."""
    with runtime.db.transaction() as session:
        return list_dead_letters(session, limit)


@router.post("/dead-letters/replay", response_model=ReplayResult)
def replay_dead_letters(
    request: ReplayRequest, runtime: Annotated[Runtime, Depends(get_runtime)]
) -> ReplayResult:
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


__all__ = ["router", "utcnow"]
