from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from sqlalchemy import text

from app.migrations import current_revision, head_revision
from app.runtime import Runtime
from app.webhooks.hubspot import get_runtime

router = APIRouter()


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is alive (no dependency checked)."""
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(runtime: Annotated[Runtime, Depends(get_runtime)]) -> JSONResponse:
    """Database reachable, schema at the migrations' head, mappings loaded."""

    def check() -> dict[str, Any]:
        checks: dict[str, Any] = {}
        try:
            with runtime.db.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            checks["database"] = "ok"
            current = current_revision(runtime.db.engine)
            head = head_revision(runtime.settings.database_url)
            checks["migrations"] = (
                "ok"
                if current == head
                else f"at {current}, head is {head}: run `relais db upgrade`"
            )
        except Exception as exc:
            checks["database"] = f"unreachable: {type(exc).__name__}"
        checks["mappings"] = (
            f"ok (version {runtime.mappings.current.version})"
            if runtime.mappings.loaded
            else "not loaded"
        )
        return checks

    checks = await run_in_threadpool(check)
    ready = all(str(v).startswith("ok") for v in checks.values())
    return JSONResponse(
        {"status": "ready" if ready else "not ready", "checks": checks},
        status_code=200 if ready else 503,
    )
