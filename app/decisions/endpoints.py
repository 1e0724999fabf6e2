"""GET /admin/api/decisions/{record_key}: a record's decisions, with their explanation."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel

from app.decisions.explain import explain
from app.decisions.repository import DecisionRepository
from app.deps import AdminDep, RuntimeDep

router = APIRouter(prefix="/admin/api", dependencies=[AdminDep])


class DecisionView(BaseModel):
    id: int
    record_key: str
    outcome: str
    owner_email: str | None
    rule: str
    score: int | None
    decided_at: datetime
    written_at: datetime | None
    details: dict[str, Any]
    explanation: list[str]


@router.get("/decisions/{record_key}", response_model=list[DecisionView])
async def decisions_of(record_key: str, runtime: RuntimeDep) -> list[DecisionView]:
    """Every decision about one CRM record (``hubspot:contact:123``,
    ``salesforce:Lead:00Q...``), oldest first, each with its explanation."""

    def load() -> list[DecisionView]:
        with runtime.db.transaction() as session:
            return [
                DecisionView(
                    id=d.id or 0,
                    record_key=d.record_key,
                    outcome=d.outcome,
                    owner_email=d.owner_email,
                    rule=d.rule,
                    score=d.score,
                    decided_at=d.decided_at,
                    written_at=d.written_at,
                    details=d.details or {},
                    explanation=explain(d),
                )
                for d in DecisionRepository(session).for_record(record_key)
            ]

    return await run_in_threadpool(load)
