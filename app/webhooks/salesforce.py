"""Salesforce webhooks: Outbound Messages (SOAP) and Flow / Apex callouts (signed JSON).

Both only verify, store each notification once, and acknowledge after the commit. A
notification breaking a rule of the edge is stored as rejected, alone, and the message is still
acknowledged; only a body that cannot be read at all is refused (400).
"""

from __future__ import annotations

import hashlib
import hmac
import time
from typing import Annotated, Any
from xml.etree.ElementTree import Element, ParseError

import structlog
from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring
from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from app.config import Settings
from app.db import utcnow
from app.deps import RuntimeDep, SettingsDep
from app.inbox.repository import InboxRepository, StoreResult
from app.inbox.salesforce_events import SfNotification, parse_flow_event, parse_outbound
from app.runtime import Runtime
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
from connectors.salesforce_ids import same_id

log = structlog.get_logger("relais.webhooks.salesforce")
router = APIRouter()
OUTBOUND_NS = "http://soap.sforce.com/2005/09/outbound"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
ACK = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/">'
    "<soapenv:Body>"
    f'<notificationsResponse xmlns="{OUTBOUND_NS}"><Ack>true</Ack></notificationsResponse>'
    "</soapenv:Body></soapenv:Envelope>"
)


def _refuse(code: int, reason: str, detail: str) -> HTTPException:
    REFUSED.labels(Crm.SALESFORCE, reason).inc()
    return HTTPException(code, detail)


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _text(el: Element | None) -> str | None:
    if el is None or el.get(f"{{{XSI_NS}}}nil") == "true":
        return None
    return (el.text or "").strip()


def parse_outbound_message(body: bytes) -> tuple[str, list[SfNotification | RejectedEvent]]:
    """(OrganizationId, its notifications, each good or rejected alone), or ValueError when
    the message itself cannot be read.

    defusedxml refuses DTDs, so no entity can expand and no external reference is fetched.
    """
    try:
        root = fromstring(body, forbid_dtd=True)
    except (ParseError, DefusedXmlException) as exc:
        raise ValueError(f"not a safe, well-formed XML document: {type(exc).__name__}") from exc
    notifications = root.find(f".//{{{OUTBOUND_NS}}}notifications")
    if notifications is None:
        raise ValueError("no notifications element in the outbound namespace")
    org = _text(notifications.find(f"{{{OUTBOUND_NS}}}OrganizationId"))
    if not org:
        raise ValueError("OrganizationId is missing")
    action = _text(notifications.find(f"{{{OUTBOUND_NS}}}ActionId"))
    out = []
    for n in notifications.findall(f"{{{OUTBOUND_NS}}}Notification"):
        sobj = n.find(f"{{{OUTBOUND_NS}}}sObject")
        raw: dict[str, Any] = {
            "Id": _text(n.find(f"{{{OUTBOUND_NS}}}Id")),
            "ActionId": action,
            "sObject": None
            if sobj is None
            else {
                "type": (sobj.get(f"{{{XSI_NS}}}type") or "").rsplit(":", 1)[-1] or None,
                "fields": {_local(child.tag): _text(child) for child in sobj},
            },
        }
        out.append(parse_outbound(raw))
    return org, out


class OutboundMessageToken:
    """Dependency: the raw body of an Outbound Message carrying the configured token, or
    403/413/503. No org id means the endpoint is disabled."""

    async def __call__(self, request: Request, settings: SettingsDep) -> bytes:
        _require_connector(settings)
        if not settings.salesforce_org_id:
            raise _refuse(
                503,
                "disabled",
                "Salesforce Outbound Messages are disabled: RELAIS_SALESFORCE_ORG_ID is not set",
            )
        body = await read_bounded_body(request, settings.max_body_bytes)
        token = settings.salesforce_outbound_token
        given = request.query_params.get("token", "")
        if token is not None and not hmac.compare_digest(
            given.encode(), token.get_secret_value().encode()
        ):
            raise _refuse(403, "token", "wrong or missing token")
        return body


def _require_connector(settings: Settings) -> None:
    if not settings.salesforce_client_id:
        raise _refuse(
            503,
            "disabled",
            "Salesforce is not configured: set "
            "RELAIS_SALESFORCE_CLIENT_ID (and its credentials) before its webhooks",
        )


@router.post(
    "/webhooks/salesforce/outbound-message",
    responses={
        200: {"content": {"text/xml": {}}, "description": "the SOAP Ack, after the commit"},
        400: {"description": "malformed or unsafe XML"},
        403: {"description": "another organization, or a wrong token"},
        413: {"description": "body over the limit"},
        503: {"description": "disabled: RELAIS_SALESFORCE_ORG_ID is not set"},
    },
)
async def outbound_message(
    body: Annotated[bytes, Depends(OutboundMessageToken())], runtime: RuntimeDep
) -> Response:
    try:  # parsing a 1 MiB message takes a while: off the event loop
        org, notifications = await run_in_threadpool(parse_outbound_message, body)
        check_batch_size(len(notifications))
    except ValueError as exc:
        raise _refuse(400, "malformed", str(exc)) from exc
    if not same_id(org, runtime.settings.salesforce_org_id or ""):
        log.warning("salesforce.foreign_org", organization=org)
        raise _refuse(403, "organization", "OrganizationId is not this Relais's org")
    await _store(runtime, notifications)
    return Response(ACK, media_type="text/xml")


async def _store(
    runtime: Runtime, notifications: list[SfNotification | RejectedEvent]
) -> StoreResult:

    def store() -> StoreResult:
        now = utcnow()
        rows = [n.row(now) for n in notifications]
        count_rejections(n for n in notifications if isinstance(n, RejectedEvent))
        with runtime.db.transaction() as session:
            return InboxRepository(session).store(rows)

    result = await run_in_threadpool(store)
    count_stored(Crm.SALESFORCE, result)
    if result.to_process:
        runtime.wakeup.set()
    return result


def flow_signature(secret: str, timestamp: str, body: bytes) -> str:
    """hex HMAC-SHA256 over the timestamp followed by the raw body."""
    return hmac.new(secret.encode(), timestamp.encode() + body, hashlib.sha256).hexdigest()


def _parse_flow(body: bytes) -> list[SfNotification | RejectedEvent]:
    data = load_json(body)
    events = data.get("events") if isinstance(data, dict) else data
    if not isinstance(events, list):
        raise UnreadableBody('expected {"events": [...]} or a JSON array of events')
    check_batch_size(len(events))
    return [parse_flow_event(e) for e in events]


class FlowSignature:
    """Dependency: the raw body of a Flow or Apex callout signed with the shared secret
    (HMAC-SHA256 over the timestamp and the body, within the window), or 401/413/503. No secret
    means the endpoint is disabled."""

    async def __call__(self, request: Request, settings: SettingsDep) -> bytes:
        _require_connector(settings)
        secret = settings.salesforce_webhook_secret
        if secret is None:
            raise _refuse(
                503,
                "disabled",
                "Salesforce JSON webhooks are disabled: "
                "RELAIS_SALESFORCE_WEBHOOK_SECRET is not set",
            )
        body = await read_bounded_body(request, settings.max_body_bytes)
        ts = request.headers.get("x-relais-timestamp", "")
        sig = request.headers.get("x-relais-signature", "")
        if not ts.isdigit() or len(ts) > 16:
            raise _refuse(401, "signature", "missing or malformed X-Relais-Timestamp")
        if abs(time.time() * 1000 - int(ts)) > settings.signature_window_seconds * 1000:
            raise _refuse(401, "signature", "timestamp outside the 5-minute window")
        expected = flow_signature(secret.get_secret_value(), ts, body)
        if not sig.isascii() or not hmac.compare_digest(sig.lower(), expected):
            raise _refuse(401, "signature", "signature does not match")
        return body


@router.post(
    "/webhooks/salesforce",
    response_model=WebhookAck,
    responses={
        400: {"description": "unreadable body: not UTF-8, not JSON, too deep, not events"},
        401: {"description": "bad signature"},
        413: {"description": "body over the limit"},
        503: {"description": "disabled: RELAIS_SALESFORCE_WEBHOOK_SECRET is not set"},
    },
)
async def flow_callout(
    body: Annotated[bytes, Depends(FlowSignature())], runtime: RuntimeDep
) -> WebhookAck:
    try:  # parsing a 1 MiB body takes a while: off the event loop
        notifications = await run_in_threadpool(_parse_flow, body)
    except UnreadableBody as exc:
        raise _refuse(400, "malformed", str(exc)) from exc
    result = await _store(runtime, notifications)
    return WebhookAck.of(result)


__all__ = ["ACK", "flow_signature", "parse_outbound_message", "router"]
