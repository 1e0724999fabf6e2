"""GET /admin/api/reps, GET /admin/api/reps/{email} and PUT /admin/api/reps/{email}/availability:
the reps of team.yaml with their availability, and the admin's pause toggle (the service
behind them is the one `relais reps` uses)."""

from __future__ import annotations

from typing import Any

import structlog
from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    ValidationError,
    field_validator,
    model_validator,
)

from app.db import utcnow
from app.deps import AdminDep, RuntimeDep
from app.reps.service import (
    MAX_REASON,
    Toggled,
    UnknownRep,
    availability_of,
    set_available,
    team_availability,
)
from app.routing.targets import pools_with
from app.webhooks.security import read_bounded_body

log = structlog.get_logger("relais.reps")
router = APIRouter(prefix="/admin/api", dependencies=[AdminDep])
MAX_BODY = 4 * 1024  # {"available": false, "reason": <500 characters>} fits many times over
NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"description": "not a rep of team.yaml (with the closest email, if any)"}
}


class AvailabilityChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    available: StrictBool = Field(description="false: pause the rep; true: resume it")
    reason: str | None = Field(
        None, max_length=MAX_REASON, description="Why the rep is paused (only with false)"
    )

    @field_validator("reason")
    @classmethod
    def _printable(cls, value: str | None) -> str | None:
        if value is not None and any(ord(c) < 32 and c not in "\t" for c in value):
            raise ValueError("the reason must be one line of text, without control characters")
        return value

    @model_validator(mode="after")
    def _reason_with_pause(self) -> AvailabilityChange:
        if self.available and self.reason is not None:
            raise ValueError('"reason" applies to a pause only ("available": false)')
        return self


def _unknown(exc: UnknownRep) -> JSONResponse:
    content = {"detail": str(exc), "email": exc.email, "suggestion": exc.suggestion}
    return JSONResponse(status_code=404, content=content)


def _invalid(exc: ValidationError) -> JSONResponse:
    errors = [
        f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}"
        for e in exc.errors(include_url=False)
    ]
    return JSONResponse(status_code=422, content={"detail": "; ".join(errors), "errors": errors})


@router.get("/reps")
def list_reps(runtime: RuntimeDep) -> list[dict[str, Any]]:
    """Every rep of team.yaml, in its order, with its availability: paused (since, reason),
    active, working hours, out of office."""
    with runtime.db.transaction() as session:
        return team_availability(session, runtime.mappings.current.team)


@router.get("/reps/{email}", responses=NOT_FOUND)
def show_rep(email: str, runtime: RuntimeDep) -> Any:
    """One rep of team.yaml with its availability."""
    try:
        with runtime.db.transaction() as session:
            return availability_of(session, runtime.mappings.current.team, email)
    except UnknownRep as exc:
        return _unknown(exc)


@router.put(
    "/reps/{email}/availability",
    responses={
        **NOT_FOUND,
        413: {"description": f"the body is larger than {MAX_BODY} bytes"},
        422: {"description": "the body is not {available: bool, reason?: text}"},
    },
)
async def set_rep_availability(email: str, request: Request, runtime: RuntimeDep) -> JSONResponse:
    """Pause a rep (``{"available": false, "reason": "..."}``) or resume it
    (``{"available": true}``), from the next lead on. Answers the rep's availability, with
    ``changed``: false when it was already in that state."""
    raw = await read_bounded_body(request, MAX_BODY)
    try:
        change = AvailabilityChange.model_validate_json(raw or b"null")
    except ValidationError as exc:
        return _invalid(exc)

    def apply() -> Toggled:
        m = runtime.mappings.current
        pools = pools_with(m, email)  # the held leads a resume releases
        with runtime.db.transaction() as session:
            return set_available(
                session, m.team, email, utcnow(), change.available, change.reason, pools
            )

    try:
        toggled = await run_in_threadpool(apply)
    except UnknownRep as exc:
        return _unknown(exc)
    paused = toggled.pause is not None
    log.info("reps.availability", rep=toggled.rep.email, paused=paused, changed=toggled.changed)
    return JSONResponse(toggled.to_json())
