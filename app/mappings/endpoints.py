"""GET /admin/api/mappings and POST /admin/api/mappings/reload: the version in use, and a
reload that keeps the last good version when the files do not validate."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from app.deps import AdminDep, RuntimeDep
from app.mappings.loader import Mappings, MappingsError

router = APIRouter(prefix="/admin/api", dependencies=[AdminDep])


class MappingsInfo(BaseModel):
    version: str
    source: str  # the folder the files were read from
    files: list[str]
    loaded_at: datetime | None


def _info(m: Mappings, loaded_at: datetime | None) -> MappingsInfo:
    return MappingsInfo(
        version=m.version, source=m.source, files=list(m.files), loaded_at=loaded_at
    )


@router.get("/mappings", response_model=MappingsInfo)
def active_mappings(runtime: RuntimeDep) -> MappingsInfo:
    """The mappings version every new decision is made with, and where it was read from."""
    return _info(runtime.mappings.current, runtime.mappings.loaded_at)


@router.post(
    "/mappings/reload",
    response_model=MappingsInfo,
    responses={
        422: {"description": "the new files do not validate; the previous version keeps serving"}
    },
)
async def reload_mappings(runtime: RuntimeDep) -> JSONResponse:
    """Re-read RELAIS_MAPPINGS_DIR. A version that does not validate is refused with its errors
    and the service keeps running on the last good one."""
    outcome = await run_in_threadpool(runtime.mappings.reload_or_keep, "admin API")
    if isinstance(outcome, MappingsError):
        return JSONResponse(
            status_code=422,
            content={
                "detail": "the mappings do not validate; the active version is unchanged",
                "active_version": runtime.mappings.current.version,
                "errors": outcome.errors,
            },
        )
    return JSONResponse(_info(outcome, runtime.mappings.loaded_at).model_dump(mode="json"))
