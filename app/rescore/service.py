"""Rescoring: every known lead scored again at a given time, from its latest evaluation.

Decay changes scores without any webhook: a lead inactive for one more month loses its
points, and may fall from warm to cold or out of sales-ready. A run walks the evaluations in
key order, one batch per transaction, and keeps its cursor with the batch: killed half-way,
it resumes after the last batch committed, at the same ``as_of`` time.

For each lead (pure, ``rescored``):
- assigned by Relais: its score fields follow; its owner and qualification stay (a lead
  routed once is never un-routed);
- kept in marketing: scored and qualified again; the values that changed are written (score
  fields, the outcome's values), and a decision says why;
- now ready: an inbox event sends it through the live path, which reads the CRM, decides
  and routes it.
Only values that differ from what Relais wrote before are queued; the outbox sends them in
batch calls of up to 100 records.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog
from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlmodel import col

from app.db import Database, utcnow
from app.decisions.repository import DecisionRepository
from app.decisions.service import Context, DecisionService
from app.evaluations.models import LeadEvaluation
from app.evaluations.repository import EvaluationRepository
from app.evaluations.service import Changed, changed, evaluated
from app.inbox.repository import InboxRepository
from app.mappings.loader import Mappings, MappingsStore
from app.qualification.engine import Qualified, qualify, write_back
from app.queue import Status
from app.rescore.models import RescoreRun
from app.routing.schemas import Outcome
from app.scoring import engine as scoring
from app.scoring.engine import ScoreResult, score_fields
from connectors.crm import RecordKey

log = structlog.get_logger("relais.rescore")
EVENT_TYPE = "relais.rescore"  # the inbox event that routes a lead a rescore found ready


@dataclass(frozen=True)
class Rescored:
    """One lead scored again: what to record, write and route."""

    key: RecordKey
    score: ScoreResult
    qualified: Qualified | None  # None: assigned, its qualification stays
    values: Changed  # the values that differ from what Relais wrote before
    route: bool  # crossed into ready: routed through the live path
    outcome: str  # the qualification it keeps (routing is the live path's)
    before: LeadEvaluation  # the evaluation it started from

    @property
    def moved(self) -> bool:
        """Something the CRMs or the admins see changed: a value to write, an outcome."""
        return bool(self.values) or self.outcome != self.before.outcome

    @property
    def rescored(self) -> bool:
        return self.moved or self.score.total != self.before.score

    def row(self, now: datetime, mappings_version: str) -> LeadEvaluation:
        """The new evaluation (built only for the leads that changed: most do not)."""
        ev = self.before
        sides = [RecordKey.parse(s) for s in ev.sides]
        return evaluated(
            self.key, ev.lead, sides, self.score.total, self.outcome, self.values, ev, now,
            mappings_version,
        )  # fmt: skip


def rescored(ev: LeadEvaluation, rep: str | None, m: Mappings, now: datetime) -> Rescored:
    """The lead of ``ev`` scored at ``now`` with the mappings ``m`` (pure)."""
    key = RecordKey.parse(ev.record_key)
    types = m.field_types()
    result = scoring.score(ev.lead, m.scoring, types, now)
    qualified = None if rep is not None else qualify(ev.lead, result, m.qualification, types)
    route = qualified is not None and qualified.ready
    values: Changed = {}
    if not route:
        wanted = {
            s: score_fields(m.scoring.write, result, s)
            | (write_back(m.qualification, qualified, s) if qualified is not None else {})
            for s in map(RecordKey.parse, ev.sides)
        }
        values = changed(wanted, ev)
    kept = ev.outcome if qualified is None or route else qualified.outcome
    return Rescored(key, result, qualified, values, route, kept, ev)


@dataclass(frozen=True)
class Progress:
    run: int
    total: int
    scanned: int
    changed: int
    routed: int
    busy: int
    finished: bool
    batch: int = 0  # the leads scanned by the step that returned this


class Rescorer:
    """Runs rescoring in batches; any number of processes may call ``step`` on one run (the
    run's row is locked for each batch)."""

    def __init__(
        self,
        db: Database,
        mappings: MappingsStore,
        *,
        batch_size: int = 100,
        lease: timedelta = timedelta(seconds=60),
    ) -> None:
        self.db = db
        self.mappings = mappings
        self.batch_size = batch_size
        # The records of a batch are held (as a worker holds them) while it is rescored.
        self.lease = lease

    def start(self, name: str, as_of: datetime) -> int:
        """The run named ``name``: created at ``as_of`` if new, else the one to resume."""
        with self.db.transaction() as session:
            found = session.scalar(select(RescoreRun).where(col(RescoreRun.name) == name))
            if found is not None:
                assert found.id is not None
                return found.id
            run = RescoreRun(
                name=name,
                as_of=as_of,
                started_at=utcnow(),
                total=EvaluationRepository(session).count(),
            )
            session.add(run)
            session.flush()
            assert run.id is not None
            return run.id

    def unfinished(self) -> int | None:
        """The latest run not finished, if any (``relais rescore`` resumes it)."""
        with self.db.transaction() as session:
            return session.scalar(
                select(col(RescoreRun.id))
                .where(col(RescoreRun.finished_at).is_(None))
                .order_by(col(RescoreRun.id).desc())
                .limit(1)
            )

    def progress(self, run_id: int) -> Progress:
        with self.db.transaction() as session:
            run = session.get(RescoreRun, run_id)
            if run is None:
                raise LookupError(f"no rescoring run #{run_id}")
            return _progress(run)

    def abandon(self, run_id: int) -> None:
        """Close an unfinished run where it stands (``relais rescore --restart``)."""
        with self.db.transaction() as session:
            run = session.get(RescoreRun, run_id)
            if run is not None and run.finished_at is None:
                run.finished_at = utcnow()

    def run(self, run_id: int, worker_id: str) -> Iterator[Progress]:
        """Every batch of the run, one after the other; yields the progress after each."""
        while True:
            progress = self.step(run_id, worker_id)
            yield progress
            if progress.finished:
                return

    def step(
        self, run_id: int, worker_id: str, lease: timedelta = timedelta(seconds=60)
    ) -> Progress:
        """Rescore the run's next batch in one transaction (with its cursor)."""
        m = self.mappings.current
        with self.db.transaction() as session:
            run = session.scalar(
                select(RescoreRun).where(col(RescoreRun.id) == run_id).with_for_update()
            )
            if run is None:
                raise LookupError(f"no rescoring run #{run_id}")
            scanned = run.scanned
            if run.finished_at is None:
                self._batch(session, run, m, worker_id)
            return _progress(run, run.scanned - scanned)

    def _batch(self, session: Session, run: RescoreRun, m: Mappings, worker_id: str) -> None:
        page = EvaluationRepository(session).page(run.cursor, self.batch_size)
        now = utcnow()
        if not page:
            run.finished_at = now
            log.info("rescore.finished", run=run.id, scanned=run.scanned, changed=run.changed)
            return
        inbox = InboxRepository(session)
        # A record a worker holds is being evaluated now, at the current time: left to it.
        keys = [ev.record_key for ev in page]
        held = set(inbox.acquire_records(keys, worker_id, now, now + self.lease))
        mine = [ev for ev in page if ev.record_key in held]
        sides = [RecordKey.parse(s) for ev in mine for s in ev.sides]
        ledger = DecisionRepository(session).assigned(sides)
        for ev in mine:
            rep = next((ledger[k] for k in map(RecordKey.parse, ev.sides) if k in ledger), None)
            self._apply(session, run, rescored(ev, rep, m, run.as_of), rep, now, m.version)
        inbox.release(held, worker_id)
        run.cursor = keys[-1]
        run.scanned += len(page)
        run.busy += len(page) - len(mine)

    def _apply(
        self,
        session: Session,
        run: RescoreRun,
        r: Rescored,
        rep: str | None,
        now: datetime,
        version: str,
    ) -> None:
        if r.route:
            InboxRepository(session).store([_route_event(run, r, now)])
            run.routed += 1
            return
        if not r.rescored:
            return
        row = r.row(run.as_of, version)
        if r.moved:
            ctx = Context(row.mappings_version, [], now, now)
            why = f"rescoring run #{run.id} as of {run.as_of:%Y-%m-%d %H:%M} UTC"
            outcome = r.qualified.outcome if r.qualified is not None else Outcome.RESCORED
            DecisionService(session).record_rescore(
                r.key, rep, r.score, r.values, ctx, outcome=outcome, why=why, qualified=r.qualified
            )
            run.changed += 1
        EvaluationRepository(session).save(row)


def _route_event(run: RescoreRun, r: Rescored, now: datetime) -> dict[str, object]:
    digest = hashlib.sha256(f"{run.id}:{r.key}".encode()).hexdigest()[:40]
    return {
        "crm": r.key.crm,
        "dedupe_key": f"rescore:{digest}",
        "record_key": str(r.key),
        "event_type": EVENT_TYPE,
        "occurred_at": now,
        "received_at": now,
        "available_at": now,
        "payload": {"rescore_run": run.id, "score": r.score.total, "as_of": run.as_of.isoformat()},
        "status": Status.PENDING,
        "result": None,
        "finished_at": None,
    }


def _progress(run: RescoreRun, batch: int = 0) -> Progress:
    assert run.id is not None
    return Progress(
        run.id,
        run.total,
        run.scanned,
        run.changed,
        run.routed,
        run.busy,
        run.finished_at is not None,
        batch,
    )
