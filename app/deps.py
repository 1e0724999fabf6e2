"""The dependencies of the HTTP endpoints, declared once: an endpoint names what it needs
(``runtime: RuntimeDep``) and its signature reads as plain parameters.

There is no ``SessionDep``: on SQLite a transaction holds this process's write lock, taken and
released on one thread, and FastAPI may enter and leave a dependency on different threads of
its pool. Endpoints open ``runtime.db.transaction()`` inside the function they run in the
thread pool, where the whole unit of work happens on one thread.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request, status

from app.config import Settings
from app.runtime import Runtime
from app.security import bearer_matches

# Every dependency here is ``async def``: none does I/O, and FastAPI runs a plain ``def``
# dependency in its thread pool, one hop per dependency and per request (it showed in the
# webhook acknowledgement benchmark).


async def get_runtime(request: Request) -> Runtime:
    """The services of this process (built once by ``create_app``)."""
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


async def runtime_settings(runtime: RuntimeDep) -> Settings:
    """The settings this process was built with (not re-read from the environment)."""
    return runtime.settings


SettingsDep = Annotated[Settings, Depends(runtime_settings)]


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(
        status.HTTP_401_UNAUTHORIZED, detail, headers={"WWW-Authenticate": "Bearer"}
    )


async def require_admin(request: Request, settings: SettingsDep) -> None:
    """401 unless the request carries one of RELAIS_ADMIN_TOKENS (compared in constant time).
    No token configured means the admin API is closed, never open."""
    header = request.headers.get("authorization", "")
    if not bearer_matches(header, settings.admin_token_list()):
        raise _unauthorized("a valid admin bearer token is needed")


async def require_metrics_token(request: Request, settings: SettingsDep) -> None:
    """401 unless the request carries RELAIS_METRICS_TOKEN; without one, /metrics is open
    (scrapers on a private network)."""
    token = settings.metrics_token
    header = request.headers.get("authorization", "")
    if token is not None and not bearer_matches(header, [token.get_secret_value()]):
        raise _unauthorized("a valid metrics bearer token is needed (RELAIS_METRICS_TOKEN)")


# Guards: on a router (``dependencies=[AdminDep]``) or a route; they return nothing.
AdminDep = Depends(require_admin)
MetricsDep = Depends(require_metrics_token)

__all__ = [
    "AdminDep",
    "MetricsDep",
    "RuntimeDep",
    "SettingsDep",
    "get_runtime",
    "require_admin",
    "require_metrics_token",
]
