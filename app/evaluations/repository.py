from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session
from sqlmodel import col

from app.evaluations.models import LeadEvaluation
from connectors.crm import RecordKey


class EvaluationRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def latest(self, records: Sequence[RecordKey]) -> dict[RecordKey, LeadEvaluation]:
        if not records:
            return {}
        rows = self.session.scalars(
            select(LeadEvaluation).where(
                col(LeadEvaluation.record_key).in_(sorted({str(k) for k in records}))
            )
        ).all()
        return {RecordKey.parse(r.record_key): r for r in rows}

    def save(self, evaluation: LeadEvaluation, *, new: bool = False) -> None:
        """Insert the record's first evaluation (``new``), or replace the one read in this
        session (its row is held by the record lease or the rescoring batch: one writer)."""
        if new:
            self.session.add(evaluation)
        else:
            self.session.merge(evaluation)

    def page(self, after: str, limit: int) -> list[str]:
        """The next record keys in key order: a rescoring run walks them with a cursor."""
        column = col(LeadEvaluation.record_key)
        query = select(column).where(column > after).order_by(column).limit(limit)
        return list(self.session.scalars(query).all())

    def forget(self, records: Sequence[RecordKey]) -> None:
        """Records that are gone from their CRM (deleted, merged, converted): no more rescoring."""
        if records:
            keys = sorted({str(k) for k in records})
            self.session.execute(
                delete(LeadEvaluation).where(col(LeadEvaluation.record_key).in_(keys))
            )

    def count(self) -> int:
        return int(self.session.scalar(select(func.count()).select_from(LeadEvaluation)) or 0)
