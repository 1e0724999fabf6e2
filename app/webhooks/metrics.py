"""What the webhooks count, per CRM: events by what became of them, and requests refused."""

from __future__ import annotations

from prometheus_client import Counter

from app.inbox.repository import StoreResult
from connectors.crm import Crm

RECEIVED = Counter("relais_webhook_events_total", "Webhook events received", ["crm", "result"])
REFUSED = Counter("relais_webhook_rejected_total", "Webhook requests refused", ["crm", "reason"])


def count_stored(crm: Crm, result: StoreResult) -> None:
    RECEIVED.labels(crm, "stored").inc(result.to_process)
    RECEIVED.labels(crm, "ignored").inc(result.ignored)
    RECEIVED.labels(crm, "rejected").inc(result.rejected)
    RECEIVED.labels(crm, "duplicate").inc(result.duplicates)
