"""What the dead-letter listing and replay return (the admin API and the CLI alike)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from connectors.crm import Crm

Queue = Literal["inbox", "outbox"]


class DeadLetter(BaseModel):
    """One inbox event or outbox write that will not be processed without an admin."""

    queue: Queue
    id: int
    status: str = Field(description="dead (failed every attempt) or rejected (at the webhook)")
    crm: Crm = Field(description="The CRM it came from (inbox) or goes to (outbox)")
    record_key: str | None
    event_type: str | None = None
    attempts: int
    error: str | None = Field(description="The last error, or why the webhook rejected it")
    at: datetime | None = Field(description="When it was dead-lettered or rejected")
    payload: dict[str, Any] = Field(
        description="The event (a rejected one: its reason and a bounded copy of what came), "
        "or the fields the write sets"
    )
    write: dict[str, Any] | None = Field(
        None,
        description="An outbox write: its kind (owner, fields), the CRM object, and for an "
        "owner write the owner the record had when it was decided (owner_before)",
    )
    replayable: bool


class DeadLetters(BaseModel):
    inbox: list[DeadLetter] = Field(description="Inbox events dead-lettered, oldest first")
    outbox: list[DeadLetter] = Field(description="Outbox writes dead-lettered, oldest first")
    rejected: list[DeadLetter] = Field(
        description="Events rejected at the webhook, newest first; they cannot be replayed"
    )
    totals: dict[str, int] = Field(description="How many of each there are in all")


class ReplayRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    inbox: list[int] = Field(default_factory=list, description="Inbox event ids")
    outbox: list[int] = Field(default_factory=list, description="Outbox write ids")
    replay_all: bool = Field(False, alias="all", description="Every dead-lettered event and write")


class Refusal(BaseModel):
    queue: Queue
    id: int
    reason: str


class ReplayResult(BaseModel):
    inbox: int = Field(description="Inbox events given a fresh set of attempts")
    outbox: int = Field(description="Outbox writes given a fresh set of attempts")
    refused: list[Refusal] = Field(description="Ids that were not replayed, and why")
