"""GET /healthz (alive) and GET /readyz (ready, and per CRM what is on, missing or paused)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from sqlalchemy import text

from app.db import utcnow
from app.deadletters.service import list_dead_letters
from app.deps import RuntimeDep
from app.inbox.repository import InboxRepository
from app.migrations import current_revision, head_revision
from app.pauses.models import CrmPause
from app.pauses.repository import PauseRepository
from app.runtime import CrmStatus, Runtime, crm_statuses

router = APIRouter()


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is alive (no dependency checked)."""
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(runtime: RuntimeDep) -> JSONResponse:
    """Database reachable, schema at the migrations' head, mappings loaded, at least one CRM
    connector configured; and per CRM what is on, what is missing and what waits."""

    def check() -> tuple[dict[str, Any], dict[str, Any], dict[str, int] | None]:
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
        statuses = crm_statuses(runtime.settings)
        if any(st.connector for st in statuses):
            checks["crms"] = "ok"
        elif any(any(st.webhooks.values()) for st in statuses):
            # A receive-only process (webhooks on, no connector) stores events for the
            # workers elsewhere: it is ready for the CRMs' deliveries.
            checks["crms"] = "ok (webhooks only: no connector in this process)"
        else:
            checks["crms"] = (
                "no CRM configured: set RELAIS_HUBSPOT_ACCESS_TOKEN and _CLIENT_SECRET, or "
                "RELAIS_SALESFORCE_CLIENT_ID (and its credentials) with _ORG_ID or "
                "_WEBHOOK_SECRET"
            )
        schema_ok = checks["database"] == "ok" and checks.get("migrations") == "ok"
        return checks, _crm_details(runtime, statuses, schema_ok), _dead_letters(runtime, schema_ok)

    checks, crms, dead = await run_in_threadpool(check)
    ready = all(str(v).startswith("ok") for v in checks.values())
    return JSONResponse(
        {
            "status": "ready" if ready else "not ready",
            "checks": checks,
            "crms": crms,
            # not a readiness condition (the service still works), but someone must look:
            # `relais dead-letters list`, then replay once the cause is fixed
            "dead_letters": dead,
        },
        status_code=200 if ready else 503,
    )


def _dead_letters(runtime: Runtime, schema_ok: bool) -> dict[str, int] | None:
    if not schema_ok:
        return None
    try:
        with runtime.db.transaction() as session:
            return list_dead_letters(session, limit=0).totals
    except Exception:  # a probe answers; the database check says what is wrong
        return None


def _crm_details(runtime: Runtime, statuses: list[CrmStatus], schema_ok: bool) -> dict[str, Any]:
    """Each CRM: connector and webhooks on or off, what is missing, a pause and why, and the
    events that wait in the inbox for it. A CRM that cannot be reached never loses events:
    they wait, and this says why."""
    waiting: dict[str, int] = {}
    pauses: dict[str, CrmPause] = {}
    unknown = not schema_ok
    if schema_ok:
        try:
            waiting, pauses = _waiting_and_pauses(runtime)
        except Exception:  # a probe answers; the database check above says what is wrong
            unknown = True
    out: dict[str, Any] = {}
    for st in statuses:
        pause = pauses.get(st.crm)
        state = "on" if st.connector else "not configured"
        if pause is not None:
            state = f"paused until {pause.paused_until.isoformat()}: {pause.reason}"
        entry: dict[str, Any] = {
            "connector": state,
            "webhooks": {path: "on" if on else "off" for path, on in st.webhooks.items()},
            "events_waiting": None if unknown else waiting.get(st.crm, 0),
            "missing": list(st.missing),
        }
        if not st.connector and waiting.get(st.crm):
            entry["why_waiting"] = (
                f"{st.label} events wait in the inbox: its connector is not configured "
                f"({st.missing[0] if st.missing else ''})"
            )
        elif pause is not None and waiting.get(st.crm):
            entry["why_waiting"] = f"{st.label} is paused: {pause.reason}"
        out[st.crm] = entry
    return out


def _waiting_and_pauses(runtime: Runtime) -> tuple[dict[str, int], dict[str, CrmPause]]:
    now = utcnow()
    with runtime.db.transaction() as session:
        waiting = {str(crm): n for crm, n in InboxRepository(session).waiting().items()}
        pauses = {str(p.crm): p for p in PauseRepository(session).active(now)}
    return waiting, pauses
