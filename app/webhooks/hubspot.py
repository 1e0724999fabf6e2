"""POST /webhooks/hubspot: verify the v3 signature, store every event once, answer 200.

An event breaking a rule of the edge is stored as rejected, alone; the rest of its batch is
stored as usual. Only a body that cannot be read at all is refused (400).
"""

from __future__ import annotations

import time
from typing import Annotated, Any

import structlog
from fastapi import APIRouter, Depends, HTTPException, Request, status
from fastapi.concurrency import run_in_threadpool
from hubspot.exceptions import InvalidSignatureTimestampError
from hubspot.utils.signature import Signature

from app.config import Settings
from app.db import utcnow
from app.deps import RuntimeDep, SettingsDep
from app.inbox.hubspot_events import parse_event
from app.inbox.repository import InboxRepository, StoreResult
from app.webhooks.edge import (
    RejectedEvent,
    UnreadableBody,
    check_batch_size,
    count_rejections,
    load_json,
)
from app.webhooks.metrics import REFUSED, count_stored
from app.webhooks.schemas import WebhookAck
from app.webhooks.security import read_bounded_body
from connectors.crm import Crm

log = structlog.get_logger("relais.webhooks.hubspot")
router = APIRouter()


def _unauthorized(reason: str) -> HTTPException:
    REFUSED.labels(Crm.HUBSPOT, reason).inc()
    return HTTPException(status.HTTP_401_UNAUTHORIZED, f"invalid HubSpot signature: {reason}")


def signed_uri(request: Request, settings: Settings) -> str:
    """The URI HubSpot signed: behind a proxy, the public URL rather than ours."""
    if settings.public_url:
        uri = settings.public_url.rstrip("/") + request.url.path
        return f"{uri}?{request.url.query}" if request.url.query else uri
    return str(request.url)


class HubSpotSignatureV3:
    """Dependency: the verified raw body, or 401/413/503. No secret means disabled."""

    async def __call__(self, request: Request, settings: SettingsDep) -> bytes:
        secret = settings.hubspot_client_secret
        if secret is None:
            REFUSED.labels(Crm.HUBSPOT, "disabled").inc()
            raise HTTPException(
                status.HTTP_503_SERVICE_UNAVAILABLE,
                "HubSpot webhooks are disabled: RELAIS_HUBSPOT_CLIENT_SECRET is not set",
            )
        body = await read_bounded_body(request, settings.max_body_bytes)
        signature = request.headers.get("x-hubspot-signature-v3")
        timestamp = request.headers.get("x-hubspot-request-timestamp")
        reason = verify_v3(
            secret=secret.get_secret_value(),
            method=request.method,
            uri=signed_uri(request, settings),
            body=body,
            signature=signature,
            timestamp=timestamp,
            window_seconds=settings.signature_window_seconds,
            now_ms=int(time.time() * 1000),
        )
        if reason is not None:
            raise _unauthorized(reason)
        return body


SignedBody = Annotated[bytes, Depends(HubSpotSignatureV3())]


def verify_v3(
    *,
    secret: str,
    method: str,
    uri: str,
    body: bytes,
    signature: str | None,
    timestamp: str | None,
    window_seconds: int,
    now_ms: int,
) -> str | None:
    """Why a request fails HubSpot's v3 check, or None when it passes.

    The comparison itself is the SDK's ``Signature.is_valid``; around it we refuse what the SDK
    lets through or chokes on: timestamps in the future, absurd header values, non-UTF-8.
    """
    if not signature or not timestamp:
        return "missing signature headers"
    if not timestamp.isdigit() or len(timestamp) > 16:
        return "malformed timestamp"
    if abs(now_ms - int(timestamp)) > window_seconds * 1000:
        # The SDK refuses stale timestamps but accepts future ones; we refuse both.
        return "timestamp outside the 5-minute window"
    if len(signature) > 128 or not signature.isascii():
        return "malformed signature"
    try:
        valid = Signature.is_valid(
            signature=signature,
            client_secret=secret,
            request_body=body.decode("utf-8"),
            http_uri=uri,
            http_method=method,
            signature_version="v3",
            timestamp=timestamp,
        )
    except (UnicodeDecodeError, InvalidSignatureTimestampError, TypeError):
        valid = False
    return None if valid else "signature does not match"


def _rows(events: list[Any]) -> tuple[list[dict[str, Any]], list[RejectedEvent]]:
    now = utcnow()
    rows, rejected = [], []
    for event in events:
        parsed = parse_event(event)
        if isinstance(parsed, RejectedEvent):
            rejected.append(parsed)
            rows.append(parsed.row(now))
            continue
        rows.append(parsed.row(event, now))
    return rows, rejected


@router.post(
    "/webhooks/hubspot",
    response_model=WebhookAck,
    responses={
        400: {"description": "unreadable body: not UTF-8, not JSON, too deep, not events"},
        401: {"description": "bad or stale signature"},
        413: {"description": "body over the limit"},
        503: {"description": "webhook disabled (no client secret)"},
    },
)
async def hubspot_webhook(
    body: SignedBody,
    runtime: RuntimeDep,
) -> WebhookAck:

    def store() -> StoreResult:
        # Parsing and checking a 1 MiB body takes a while: off the event loop, with the insert.
        try:
            events = load_json(body)
            if isinstance(events, dict):
                events = [events]
            if not isinstance(events, list):
                raise UnreadableBody("expected a JSON array of events")
            check_batch_size(len(events))
        except UnreadableBody as exc:
            REFUSED.labels(Crm.HUBSPOT, "malformed").inc()
            raise HTTPException(status.HTTP_400_BAD_REQUEST, str(exc)) from exc
        rows, rejected = _rows(events)
        count_rejections(rejected)
        with runtime.db.transaction() as session:
            return InboxRepository(session).store(rows)

    result = await run_in_threadpool(store)
    count_stored(Crm.HUBSPOT, result)
    if result.to_process:
        runtime.wakeup.set()
    return WebhookAck.of(result)
