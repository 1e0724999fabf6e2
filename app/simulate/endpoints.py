"""POST /admin/api/simulate: the dry run over HTTP (the same service as ``relais simulate``)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from app.deps import AdminDep, RuntimeDep
from app.simulate.schemas import Simulation
from app.simulate.service import MAX_BYTES, SimulationError, TooLarge, parse_body, run

router = APIRouter(prefix="/admin/api", dependencies=[AdminDep])


async def _bounded_body(request: Request) -> bytes:
    """The body, refused as soon as it passes the limit (never read whole first)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BYTES:
        raise TooLarge()
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BYTES:
            raise TooLarge()
        chunks.append(chunk)
    return b"".join(chunks)


@router.post(
    "/simulate",
    responses={
        404: {"description": "the record is not in its CRM"},
        413: {"description": "the body is larger than 64 KiB"},
        422: {"description": "the body, a key, a field or a value is not valid"},
        502: {"description": "the CRM did not answer the read"},
    },
)
async def simulate_lead(request: Request, runtime: RuntimeDep) -> JSONResponse:
    """Enrich, score and qualify a lead without writing anything (not even the enrichment
    cache, which is read). Body: ``{"lead": {"title": "DRH", ...}}`` (canonical fields) or
    ``{"record": "hubspot:123"}`` (read from its CRM); optionally ``"at"`` (ISO 8601) and
    ``"enrich": false`` (skip enrichment.yaml's providers). Simulated today: the read of the
    record, enrichment (its results and gaps in ``enrichment``), the score with the fields'
    types, qualification, and for a ready lead the routing decision the live path would make
    now (``routing``: rule, pool, rep, outcome, reason, explanation)."""

    def simulate(raw: bytes) -> Simulation:
        request = parse_body(raw, runtime.mappings.current.field_names())
        return run(runtime, request)

    try:
        result = await run_in_threadpool(simulate, await _bounded_body(request))
    except SimulationError as exc:
        return JSONResponse(
            status_code=exc.status_code,
            content={"detail": "; ".join(exc.errors), "errors": exc.errors},
        )
    return JSONResponse(result.to_json())
