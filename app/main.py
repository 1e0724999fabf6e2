"""The FastAPI application: webhooks, probes, the admin API, metrics; optionally an embedded
worker."""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import structlog
from fastapi import FastAPI, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from app.config import Settings, get_settings
from app.deadletters.endpoints import router as dead_letters_router
from app.decisions.endpoints import router as decisions_router
from app.deps import MetricsDep
from app.health.endpoints import router as health_router
from app.mappings.endpoints import router as mappings_router
from app.reps.endpoints import router as reps_router
from app.runtime import Runtime, crm_statuses
from app.simulate.endpoints import router as simulate_router
from app.webhooks.hubspot import router as hubspot_router
from app.webhooks.salesforce import router as salesforce_router

log = structlog.get_logger("relais.app")


def _reload_on_sighup(runtime: Runtime) -> None:
    """kill -HUP reloads the mappings, like POST /admin/api/mappings/reload."""

    def reload(*_: object) -> None:
        runtime.mappings.reload_or_keep("SIGHUP")  # logs the outcome; never raises

    # Not possible off the main thread (tests, embedded servers) or without SIGHUP (Windows).
    with contextlib.suppress(ValueError, AttributeError):
        signal.signal(signal.SIGHUP, reload)


def create_app(settings: Settings | None = None, *, embedded_worker: bool = False) -> FastAPI:
    settings = settings or get_settings()
    runtime = Runtime.build(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runtime.mappings.reload()  # refuse to start on mappings that do not validate
        _reload_on_sighup(runtime)
        for status in crm_statuses(settings):
            log.info(
                "relais.crm",
                crm=status.crm,
                connector="on" if status.connector else "off",
                webhooks={path: "on" if on else "off" for path, on in status.webhooks.items()},
                missing=list(status.missing),
            )
        stop = threading.Event()
        threads = runtime.start_workers(stop) if embedded_worker else []
        try:
            yield
        finally:
            stop.set()
            runtime.wakeup.set()
            runtime.outbox_wakeup.set()
            for thread in threads:
                thread.join(timeout=30)
            runtime.close()

    docs = settings.api_docs
    app = FastAPI(
        title="Relais",
        version="0.1.0",
        lifespan=lifespan,
        description="Lead routing between HubSpot and Salesforce",
        docs_url="/docs" if docs else None,
        redoc_url="/redoc" if docs else None,
        openapi_url="/openapi.json" if docs else None,
    )
    app.state.runtime = runtime
    app.include_router(hubspot_router, tags=["webhooks"])
    app.include_router(salesforce_router, tags=["webhooks"])
    app.include_router(health_router, tags=["probes"])
    app.include_router(mappings_router, tags=["admin"])
    app.include_router(dead_letters_router, tags=["admin"])
    app.include_router(decisions_router, tags=["admin"])
    app.include_router(simulate_router, tags=["admin"])
    app.include_router(reps_router, tags=["admin"])

    @app.get("/metrics", include_in_schema=False, dependencies=[MetricsDep])
    def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return app
