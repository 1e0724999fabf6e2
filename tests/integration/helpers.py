"""Signed requests and database look-ups shared by the integration tests."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
from sqlalchemy import func, select

from app.db import Database
from app.inbox.models import InboxEvent
from app.mappings.loader import load_mappings
from connectors.sandbox.webhooks import sign_v3
from tests.conftest import ROOT

# HubSpot properties that make a contact sales-ready under the shipped mappings (an HR
# director at a 120-person French construction firm: 170 points), for the tests of routing.
READY = {
    "jobtitle": "DRH",
    "numberofemployees": "120",
    "industry": "CONSTRUCTION",
    "country": "France",
}


def ready(email: str, **extra: str) -> dict[str, str]:
    """A sales-ready contact's properties: routed to a rep, whatever else the test checks."""
    return {**READY, "email": email, **extra}


def signed_post(
    client: httpx.Client,
    url: str,
    secret: str,
    body: str | bytes,
    *,
    timestamp_ms: int | None = None,
    signed_url: str | None = None,
    signature: str | None = None,
) -> httpx.Response:
    ts = timestamp_ms if timestamp_ms is not None else int(time.time() * 1000)
    text = body.decode() if isinstance(body, bytes) else body
    sig = signature or sign_v3(secret, "POST", signed_url or url, text, ts)
    return client.post(
        url,
        content=body,
        headers={
            "Content-Type": "application/json",
            "X-HubSpot-Signature-v3": sig,
            "X-HubSpot-Request-Timestamp": str(ts),
        },
    )


def creation_events(object_ids: list[int], start_event_id: int = 1) -> list[dict[str, Any]]:
    now = int(time.time() * 1000)
    return [
        {
            "eventId": start_event_id + i,
            "subscriptionId": 25,
            "portalId": 4242,
            "appId": 1160452,
            "occurredAt": now,
            "subscriptionType": "contact.creation",
            "attemptNumber": 0,
            "objectId": oid,
            "changeFlag": "CREATED",
            "changeSource": "CRM_UI",
        }
        for i, oid in enumerate(object_ids)
    ]


def dumps(events: list[dict[str, Any]]) -> str:
    return json.dumps(events, separators=(",", ":"))


def inbox_count(db: Database, **where: Any) -> int:
    with db.transaction() as session:
        query = select(func.count()).select_from(InboxEvent)
        for key, value in where.items():
            query = query.where(getattr(InboxEvent, key) == value)
        return int(session.scalar(query) or 0)


def weighted_shares(active: list[str]) -> dict[str, float]:
    """Each active rep's exact share of the leads by the shipped team.yaml weights."""
    team = load_mappings(ROOT / "mappings").team
    weights = {r.email: r.weight for r in team.reps if r.email in active}
    total = sum(weights.values())
    return {r: w / total for r, w in weights.items()}


def within_weighted_shares(order: list[str], active: list[str]) -> bool:
    """Whether, at every prefix of ``order`` (the reps in the order they got leads), each
    active rep's count is within one lead of its exact share by the shipped team.yaml weights
    (the weighted pool's promise while the team does not change)."""
    shares = weighted_shares(active)
    counts = dict.fromkeys(active, 0)
    for n, rep in enumerate(order, start=1):
        counts[rep] += 1
        if any(abs(counts[r] - n * share) >= 1 for r, share in shares.items()):
            return False
    return True
