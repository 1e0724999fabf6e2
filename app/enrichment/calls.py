"""Calls out (the register, the http provider) held to a deadline for the whole call, not per
read: httpx's timeouts bound each read, so a server dripping a byte at a time, or a body of
50 MB, would keep a thread, its connection and its memory long after the batch gave up.

The deadline is the batch's (``service.run_batch`` sets it in each of its threads); a provider
called on its own (a test, a script) gets its own timeout from now."""

from __future__ import annotations

import json
import time
from contextvars import ContextVar
from typing import Any

import httpx

MAX_ANSWER_BYTES = 1 << 20  # 1 MiB: a search result or a lead's answer is a few KiB
_DEADLINE: ContextVar[float | None] = ContextVar("relais_enrichment_deadline", default=None)


def hold_to(at: float) -> None:
    """Calls made in this thread (context) from now on end by ``at`` (``time.monotonic``)."""
    _DEADLINE.set(at)


def deadline(timeout: float) -> float:
    """When the current call must be over: the batch's deadline, else ``timeout`` from now."""
    at = _DEADLINE.get()
    return at if at is not None else time.monotonic() + timeout


def fetch_json(http: httpx.Client, method: str, url: str, until: float, **kwargs: Any) -> Any:
    """The JSON of a 2xx answer read whole by ``until``. Raises httpx.HTTPStatusError (its
    response's headers readable, its body not read), TimeoutError past ``until``, ValueError
    for an answer over MAX_ANSWER_BYTES or not JSON.

    Every httpx timeout is the time left, so a read blocks at most that long: with the check
    between chunks, a call is over by twice its budget at worst, whatever the server does."""
    left = until - time.monotonic()
    if left <= 0:
        raise TimeoutError("no time left before the deadline")
    with http.stream(method, url, timeout=left, **kwargs) as response:
        response.raise_for_status()
        body = _read(response, until)
    return json.loads(body)


def _read(response: httpx.Response, until: float) -> bytes:
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_ANSWER_BYTES:
        raise ValueError(f"the answer is {declared} bytes, over {MAX_ANSWER_BYTES} (1 MiB)")
    body = bytearray()
    for chunk in response.iter_bytes():
        body += chunk
        if len(body) > MAX_ANSWER_BYTES:  # no or a false Content-Length: stop reading
            raise ValueError(f"the answer is over {MAX_ANSWER_BYTES} bytes (1 MiB)")
        if time.monotonic() > until:
            raise TimeoutError("the answer was not whole by the deadline")
    return bytes(body)
