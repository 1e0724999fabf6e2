"""What the handlers of one batch share: read before the transaction, used inside it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from app.decisions.service import Context, DecisionService, Ledger
from app.evaluations.models import LeadEvaluation
from app.evaluations.repository import EvaluationRepository
from app.inbox.repository import ClaimedEvent
from app.links.schemas import Link
from app.mappings.loader import Mappings
from app.ownersync.service import OwnerSeen
from app.records.schemas import Record
from app.routing import targets
from app.routing.assign import Roster, Side
from app.routing.availability import Availability, Counts
from app.routing.pools import Rotation
from app.routing.schemas import Outcome
from connectors.crm import RecordKey


@dataclass(frozen=True)
class Handled:
    outcome: Outcome
    note: str  # stored as the events' result, after the outcome


@dataclass
class Batch:
    session: Session
    mappings: Mappings
    roster: Roster
    ledger: Ledger  # re-read under the pool lock; each decision of the batch adds to it
    states: dict[str, Rotation]  # each pool's rotation, advanced by each decision of the batch
    counts: dict[str, Counts]  # each rep's leads today and this week (caps), counted along
    paused: frozenset[str]  # reps an admin paused
    records: dict[RecordKey, Record]  # records read for a decision
    links: dict[RecordKey, Link]  # their counterparts in the other CRM
    sides: dict[RecordKey, Side]  # every record read, with its owner resolved to a rep
    known: dict[RecordKey, RecordKey]  # links stored before this batch
    owners_seen: dict[RecordKey, OwnerSeen]  # owners the events named, checked with the CRM
    evaluations: dict[RecordKey, LeadEvaluation]  # each record's latest evaluation
    now: datetime
    at: datetime  # the instant availability is judged at: ``now`` but in tests
    fetch_ms: float  # how long the reads took, recorded in each decision

    @property
    def decisions(self) -> DecisionService:
        return DecisionService(self.session)

    def available(self) -> dict[str, Availability]:
        """Every rep's availability now, with the leads the batch gave so far."""
        return targets.team_availability(self.mappings, self.at, self.paused, self.counts)

    def gave(self, rep: str) -> None:
        before = self.counts.get(rep, Counts())
        self.counts[rep] = Counts(before.today + 1, before.this_week + 1)

    def remember(self, evaluation: LeadEvaluation) -> None:
        """Keep the record's new evaluation: the next event or rescore starts from it."""
        key = RecordKey.parse(evaluation.record_key)
        new = key not in self.evaluations  # none read for it: an insert, not a merge
        EvaluationRepository(self.session).save(evaluation, new=new)
        self.evaluations[key] = evaluation

    def context_for(self, events: Sequence[ClaimedEvent]) -> Context:
        return Context(
            mappings_version=self.mappings.version,
            event_ids=[e.id for e in events],
            first_received_at=min(e.received_at for e in events),
            now=self.now,
            fetch_ms=self.fetch_ms,
        )

    def assigned_to(self, key: RecordKey) -> str | None:
        """The rep Relais gave this record, or its linked record."""
        rep = self.ledger.get(key)
        counterpart = self.known.get(key)
        if rep is None and counterpart is not None:
            rep = self.ledger.get(counterpart)
        return rep
