from __future__ import annotations

from dataclasses import dataclass

from app.records.schemas import Record


@dataclass(frozen=True)
class Link:
    """The same person's record in the other CRM, and how we know it is the same person."""

    other: Record
    method: str  # known | stored_id | email
    note: str | None = None

    def snapshot(self) -> dict[str, object]:
        return {"method": self.method, "note": self.note}
