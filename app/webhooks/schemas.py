"""What a webhook answers (HubSpot, and Salesforce's Flow and Apex callouts)."""

from __future__ import annotations

from pydantic import BaseModel

from app.inbox.repository import StoreResult


class WebhookAck(BaseModel):
    """What a delivery changed: ``stored`` counts new rows, ``ignored`` and ``rejected``
    among them; ``duplicates`` are events already stored by an earlier delivery."""

    stored: int
    duplicates: int
    ignored: int
    rejected: int = 0

    @classmethod
    def of(cls, result: StoreResult) -> WebhookAck:
        return cls(
            stored=result.stored,
            duplicates=result.duplicates,
            ignored=result.ignored,
            rejected=result.rejected,
        )
