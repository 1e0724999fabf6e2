"""Fault injection shared by the sandbox CRMs: one model, one way to pick the fault a call
meets, and the wire-level pieces (latency, a dropped connection, a gateway's HTML page) that
are the same whichever CRM is faking them. The body of an error answer is each CRM's own.

A fault is aimed at an operation (``'*'`` for any) and lasts either ``times`` calls or
``for_seconds`` seconds from the moment it was created (added). Each call meets at most one
fault: the first in the list that matches and is still alive.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections import Counter
from collections.abc import Callable, Coroutine, Sequence
from typing import Any, Generic, Literal, TypeVar

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute
from pydantic import BaseModel, Field, PrivateAttr, ValidationError, model_validator
from starlette.types import Receive, Scope, Send


class FaultBase(BaseModel):
    """What a call of ``operation`` meets: extra latency, then an error status, or a dropped
    connection. ``status`` below 400 with no ``reset`` injects latency only."""

    operation: str = Field(
        "*", description="Operation name (see BEHAVIOR.md), a variant such as query.User, or *"
    )
    status: int = Field(500, ge=200, le=599, description="HTTP status of the answer")
    times: int = Field(1, ge=1, description="Calls that meet the fault (counted faults)")
    for_seconds: float | None = Field(
        None,
        gt=0,
        description="Instead of times: every matching call meets the fault until this many "
        "seconds have passed (since the fault was added, or its first call: timed_from)",
    )
    timed_from: Literal["added", "first_call"] = Field(
        "added",
        description="Where for_seconds starts: when the fault is added, or when the first "
        "call meets it (an operation that runs late still fails for the whole span)",
    )
    retry_after: int | None = Field(None, ge=0, description="Seconds, sent as Retry-After")
    latency_ms: float = Field(
        0.0,
        ge=0,
        description="Delay before the call is handled: longer than the client's timeout, a "
        "timeout (the call still takes effect afterwards unless the status is an error)",
    )
    hold_answer_ms: float = Field(
        0.0,
        ge=0,
        description="Delay after the call took effect, before its answer leaves: longer than "
        "the client's timeout, a timeout whose call took effect",
    )
    reset: bool = Field(
        False,
        description="Drop the connection mid-response, before the call takes effect: the "
        "client sees a connection error, never an HTTP status",
    )
    _added_at: float = PrivateAttr(default_factory=time.monotonic)
    _first_met_at: float | None = PrivateAttr(None)

    @model_validator(mode="after")
    def _one_lifetime(self) -> FaultBase:
        if self.for_seconds is not None and "times" in self.model_fields_set:
            raise ValueError("give times (counted) or for_seconds (timed), not both")
        if self.for_seconds is None and "timed_from" in self.model_fields_set:
            raise ValueError("timed_from applies to for_seconds only")
        return self

    @property
    def fails(self) -> bool:
        return self.reset or self.status >= 400

    def _deadline(self) -> float | None:
        """When a timed fault ends; None while it waits for its first call."""
        start = self._added_at if self.timed_from == "added" else self._first_met_at
        return None if start is None or self.for_seconds is None else start + self.for_seconds

    def alive(self, now: float) -> bool:
        if self.for_seconds is not None:
            deadline = self._deadline()
            return deadline is None or now < deadline
        return self.times > 0

    def meet(self, now: float) -> None:
        """A call met the fault: spend one of its times, or start its clock."""
        if self._first_met_at is None:
            self._first_met_at = now
        if self.for_seconds is None:
            self.times -= 1

    def matches(self, names: Sequence[str]) -> bool:
        return self.operation == "*" or self.operation in names

    def describe(self, now: float) -> dict[str, Any]:
        """The fault as the control API lists it, with what is left of it."""
        out = self.model_dump(exclude_none=True)
        if self.for_seconds is not None:
            out.pop("times", None)
            deadline = self._deadline()
            left = self.for_seconds if deadline is None else max(0.0, deadline - now)
            out["seconds_left"] = round(left, 3)
        else:
            out.pop("timed_from", None)
        return out


F = TypeVar("F", bound=FaultBase)


def take_fault(faults: list[F], *names: str, now: float | None = None) -> F | None:
    """The first live fault aimed at any of ``names`` (an operation and its variants) or '*',
    spending one of its ``times``; dead faults are dropped on the way. The caller holds the
    lock that guards ``faults``."""
    now = time.monotonic() if now is None else now
    for fault in list(faults):
        if not fault.alive(now):
            faults.remove(fault)
            continue
        if not fault.matches(names):
            continue
        taken = fault.model_copy()
        fault.meet(now)
        if not fault.alive(now):
            faults.remove(fault)
        return taken
    return None


async def delay(latency_ms: float) -> None:
    if latency_ms > 0:
        await asyncio.sleep(latency_ms / 1000)


def hold_answer(request: Request, fault: FaultBase | None) -> None:
    """Ask ``HeldAnswerRoute`` to hold this call's answer for the fault's ``hold_answer_ms``."""
    if fault is not None and fault.hold_answer_ms:
        request.state.hold_answer_ms = fault.hold_answer_ms


class HeldAnswerRoute(APIRoute):
    """A route whose answer can be held after the handler ran (the call took effect) and before
    it is sent: a timeout the CRM did not notice."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def held(request: Request) -> Response:
            response = await handler(request)
            await delay(getattr(request.state, "hold_answer_ms", 0.0))
            return response

        return held


def retry_after_headers(fault: FaultBase) -> dict[str, str]:
    return {} if fault.retry_after is None else {"Retry-After": str(fault.retry_after)}


def gateway_page(status: int, headers: dict[str, str] | None = None) -> Response:
    """What a 502 or 504 really looks like: an HTML page from the vendor's edge, not the API's
    JSON error."""
    title = {502: "502 Bad Gateway", 504: "504 Gateway Time-out"}.get(status, str(status))
    return Response(
        f"<html><head><title>{title}</title></head><body><h1>{title}</h1></body></html>",
        status_code=status,
        media_type="text/html",
        headers=headers,
    )


class DroppedConnection(Response):
    """Sends a status line and headers promising a body, part of the body, then returns with
    the response incomplete: uvicorn closes the transport. The client reads a truncated body:
    urllib3 raises ``ProtocolError`` ("Connection broken: IncompleteRead"), requests raises
    ``ChunkedEncodingError`` (a ``RequestException``). Uvicorn logs "ASGI callable returned
    without completing response." at error level: that line is the fault, not a bug."""

    def __init__(self) -> None:
        super().__init__(status_code=200)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", b"4096"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": b'{"results": [', "more_body": True})


class FaultBook(Generic[F]):
    """The faults of one sandbox CRM and how many faults each operation met. Both live
    in the CRM's state (tests append to ``state.faults`` directly), read through ``state``."""

    def __init__(
        self, lock: threading.Lock, state: Callable[[], tuple[list[F], Counter[str]]]
    ) -> None:
        self.lock, self._state = lock, state

    def take(self, operation: str, *variants: str) -> F | None:
        with self.lock:
            faults, served = self._state()
            fault = take_fault(faults, operation, *variants)
            if fault is not None:
                for name in (operation, *variants):  # counted like calls: per name
                    served[name] += 1
            return fault

    def routes(self, router: APIRouter, prefix: str, model: type[F]) -> None:
        """``POST`` (add one), ``GET`` (the live ones, and faults served), ``DELETE`` (clear
        them all) on ``prefix``."""

        @router.post(prefix)
        async def add_fault(request: Request) -> JSONResponse:
            try:
                fault = model.model_validate(await request.json())
            except ValidationError as exc:
                detail = json.loads(exc.json(include_url=False))
                return JSONResponse({"detail": detail}, status_code=422)
            except ValueError:
                return JSONResponse({"detail": "the body must be a JSON object"}, status_code=422)
            with self.lock:
                self._state()[0].append(fault)
            return JSONResponse({"status": "ok"})

        @router.get(prefix)
        async def list_faults() -> dict[str, Any]:
            now = time.monotonic()
            with self.lock:
                faults, served = self._state()
                return {
                    "faults": [f.describe(now) for f in faults if f.alive(now)],
                    "served": dict(served),
                }

        @router.delete(prefix)
        async def clear_faults() -> dict[str, str]:
            with self.lock:
                self._state()[0].clear()
            return {"status": "ok"}
