from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session
from sqlmodel import col

from app.decisions.models import Assignment, Decision
from connectors.crm import RecordKey


@dataclass(frozen=True)
class Qualification:
    """Where a record stands in the funnel: its latest qualification, and the rep the
    decision gave (None: kept in marketing)."""

    outcome: str  # disqualified, incomplete, nurture or ready
    reason: str
    owner_email: str | None


@dataclass(frozen=True)
class DecisionSearch:
    """What a search through the decisions keeps; None keeps any. Newest first: ``before``
    (a decision id) is the cursor of the next page."""

    record: str | None = None  # a record key: its decisions, and those given to it (ledger)
    rep: str | None = None  # an email, compared case-insensitively
    rule: str | None = None  # the routing rule's name
    outcome: str | None = None
    pool: str | None = None
    since: datetime | None = None
    before: int | None = None
    limit: int = 50


class DecisionRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def assigned(self, records: Sequence[RecordKey]) -> dict[RecordKey, str]:
        """record -> the rep's email, for the records Relais has already assigned."""
        if not records:
            return {}
        rows = self.session.execute(
            select(col(Assignment.record_key), col(Assignment.owner_email)).where(
                col(Assignment.record_key).in_(sorted({str(k) for k in records}))
            )
        ).all()
        return {RecordKey.parse(k): str(v) for k, v in rows}

    def given_since(self, since: datetime) -> list[tuple[str, int, datetime]]:
        """(rep, decision, when) of every new lead the ledger gave since ``since``: the counts
        that daily and weekly caps compare (an owner kept, or a person's other record linked
        to its rep, is no new lead)."""
        a, d = Assignment, Decision
        rows = self.session.execute(
            select(col(a.owner_email), col(a.decision_id), col(a.assigned_at))
            .join(d, col(d.id) == col(a.decision_id))
            .where(col(a.assigned_at) >= since, col(d.outcome).in_(("assigned", "fallback")))
        ).all()
        return [(str(e), int(i), at) for e, i, at in rows]

    def held(self, pools: Sequence[str] | None = None) -> list[RecordKey]:
        """The records whose latest decision held them (nobody could take them then) and
        that nobody took since, in ``pools`` (None: any)."""
        latest = (
            select(func.max(col(Decision.id))).group_by(col(Decision.record_key)).scalar_subquery()
        )
        query = select(col(Decision.record_key)).where(
            col(Decision.id).in_(latest),
            col(Decision.outcome) == "held",
            col(Decision.record_key).not_in(select(col(Assignment.record_key))),
        )
        if pools is not None:
            query = query.where(col(Decision.pool).in_(list(pools)))
        return [RecordKey.parse(k) for k in self.session.scalars(query).all()]

    def reassign(self, records: Sequence[RecordKey], rep: str) -> None:
        """The ledger follows a person's choice: these records are ``rep``'s now."""
        self.session.execute(
            update(Assignment)
            .where(col(Assignment.record_key).in_([str(k) for k in records]))
            .values(owner_email=rep)
        )

    def add(self, decision: Decision) -> Decision:
        self.session.add(decision)
        self.session.flush()  # assigns decision.id for the assignment and the outbox row
        return decision

    def add_assignment(self, assignment: Assignment) -> None:
        self.session.add(assignment)

    def for_record(self, record_key: str) -> list[Decision]:
        """Every decision about the record: made on it, or made on the same person's record in
        the other CRM and given to it (the assignments ledger names that decision)."""
        via_ledger = select(col(Assignment.decision_id)).where(
            col(Assignment.record_key) == record_key
        )
        return list(
            self.session.scalars(
                select(Decision)
                .where((col(Decision.record_key) == record_key) | col(Decision.id).in_(via_ledger))
                .order_by(col(Decision.id))
            )
        )

    def funnel(self) -> dict[str, Qualification]:
        """record key -> its latest qualification, for every record a decision qualified
        (directly, or as the same person's other record: the decision lists both)."""
        rows = self.session.execute(
            select(col(Decision.details), col(Decision.owner_email)).order_by(col(Decision.id))
        ).all()
        out: dict[str, Qualification] = {}
        for details, owner in rows:
            q = (details or {}).get("qualification")
            if not q:
                continue  # owner syncs and rescores of a routed lead: no new qualification
            for record in details.get("records") or []:
                out[str(record)] = Qualification(str(q["outcome"]), str(q["reason"]), owner)
        return out

    def search(self, q: DecisionSearch) -> tuple[list[Decision], int | None]:
        """Up to ``q.limit`` decisions matching every filter, newest first, and the cursor of
        the next page (None: this page is the last)."""
        d = Decision
        query = select(d).order_by(col(d.id).desc()).limit(q.limit + 1)
        if q.record is not None:
            via_ledger = select(col(Assignment.decision_id)).where(
                col(Assignment.record_key) == q.record
            )
            query = query.where((col(d.record_key) == q.record) | col(d.id).in_(via_ledger))
        if q.rep is not None:
            query = query.where(func.lower(col(d.owner_email)) == q.rep.lower())
        equal = [(d.routing_rule, q.rule), (d.outcome, q.outcome), (d.pool, q.pool)]
        for column, value in equal:
            if value is not None:
                query = query.where(col(column) == value)
        if q.since is not None:
            query = query.where(col(d.decided_at) >= q.since)
        if q.before is not None:
            query = query.where(col(d.id) < q.before)
        rows = list(self.session.scalars(query))
        page = rows[: q.limit]
        more = len(rows) > q.limit and page[-1].id is not None
        return page, page[-1].id if more else None
