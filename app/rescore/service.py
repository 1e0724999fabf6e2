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

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog
from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlmodel import col

from app.db import Database, insert_ignoring_conflicts, table_of, utcnow
from app.decisions.repository import DecisionRepository
from app.decisions.service import Context, DecisionService
from app.evaluations.models import LeadEvaluation
from app.evaluations.repository import EvaluationRepository
from app.evaluations.service import Changed, changed, evaluated
from app.inbox.repository import InboxRepository
from app.mappings.loader import Mappings, MappingsStore
from app.qualification.engine import READY, Qualified, qualify, write_back
from app.records.schemas import FieldMaps
from app.rescore.models import RescoreRun
from app.routing.schemas import Outcome
from app.scoring import engine as scoring
from app.scoring.engine import ScoreResult, score_fields
from connectors.crm import Crm, RecordKey

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


def rescored(
    ev: LeadEvaluation, rep: str | None, m: Mappings, now: datetime, sides: list[RecordKey]
) -> Rescored:
    """The lead of ``ev`` scored at ``now`` with the mappings ``m`` (pure). ``sides``: the
    records its values go to (itself; its linked record unless that one has an evaluation of
    its own, which writes there: one source per record, no flip-flop)."""
    key = RecordKey.parse(ev.record_key)
    types = m.field_types()
    result = scoring.score(ev.lead, m.scoring, types, now)
    qualified = None if rep is not None else qualify(ev.lead, result, m.qualification, types)
    # Routed only when it crosses into ready: a ready lead that kept an owner from outside
    # the team (no ledger row) was routed already.
    route = qualified is not None and qualified.ready and ev.outcome != READY
    values: Changed = {}
    if not route:
        wanted = {
            s: score_fields(m.scoring.write, result, s)
            | (write_back(m.qualification, qualified, s) if qualified is not None else {})
            for s in sides
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
    failed: int = 0  # leads whose rescoring raised (logged; the run goes on)


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
        """The run named ``name``: created at ``as_of`` if new, else the one to resume. Several
        workers may start the day's run at once: one creates it, all get it."""
        with self.db.transaction() as session:
            row = {"name": name, "as_of": as_of, "started_at": utcnow(), "cursor": ""}
            row |= {"total": EvaluationRepository(session).count(), "scanned": 0}
            row |= {"changed": 0, "routed": 0, "busy": 0, "failed": 0}
            insert_ignoring_conflicts(session, table_of(RescoreRun), [row], ["name"])
            found = session.scalar(select(col(RescoreRun.id)).where(col(RescoreRun.name) == name))
            assert found is not None
            return int(found)

    def unfinished(self, prefix: str = "") -> list[int]:
        """The runs not finished whose name starts with ``prefix``, latest first."""
        with self.db.transaction() as session:
            return list(
                session.scalars(
                    select(col(RescoreRun.id))
                    .where(
                        col(RescoreRun.finished_at).is_(None),
                        col(RescoreRun.name).startswith(prefix),
                    )
                    .order_by(col(RescoreRun.id).desc())
                )
            )

    def progress(self, run_id: int) -> Progress:
        with self.db.transaction() as session:
            run = session.get(RescoreRun, run_id)
            if run is None:
                raise LookupError(f"no rescoring run #{run_id}")
            return _progress(run)

    def abandon(self, run_id: int) -> None:
        """Close an unfinished run where it stands (``relais rescore --restart``, or a day's
        run still going when the next day's starts)."""
        with self.db.transaction() as session:
            run = session.get(RescoreRun, run_id)
            if run is not None and run.finished_at is None:
                run.finished_at = utcnow()

    def run(self, run_id: int, worker_id: str) -> Iterator[Progress]:
        """Every batch of the run, one after the other; yields the progress after each."""
        while True:
            progress = self.step(run_id, worker_id, wait=True)
            yield progress
            if progress.finished:
                return

    def step(self, run_id: int, worker_id: str, *, wait: bool = False) -> Progress:
        """Rescore the run's next batch in one transaction (with its cursor). The run's row
        is locked for the batch; without ``wait`` a worker finding it locked (another worker
        is on the run) does nothing this turn rather than queue behind it."""
        m = self.mappings.current
        with self.db.transaction() as session:
            query = select(RescoreRun).where(col(RescoreRun.id) == run_id)
            run = session.scalar(query.with_for_update(skip_locked=not wait))
            if run is None:
                if session.get(RescoreRun, run_id) is None:
                    raise LookupError(f"no rescoring run #{run_id}")
                return Progress(run_id, 0, 0, 0, 0, 0, False)  # another worker has it
            scanned = run.scanned
            if run.finished_at is None:
                self._batch(session, run, m, worker_id)
            return _progress(run, run.scanned - scanned)

    def _batch(self, session: Session, run: RescoreRun, m: Mappings, worker_id: str) -> None:
        evaluations = EvaluationRepository(session)
        keys = evaluations.page(run.cursor, self.batch_size)
        now = utcnow()
        if not keys:
            run.finished_at = now
            log.info("rescore.finished", run=run.id, scanned=run.scanned, changed=run.changed)
            return
        inbox, maps = InboxRepository(session), FieldMaps.of(m)
        # A record a worker holds is being evaluated now, at the current time: left to it.
        # The rows are read once the records are held: a worker that committed meanwhile left
        # its evaluation, which is the one to start from.
        held = inbox.acquire_records(keys, worker_id, now, now + self.lease)
        mine = evaluations.latest([RecordKey.parse(k) for k in held])
        others = [RecordKey.parse(s) for ev in mine.values() for s in ev.sides]
        ledger = DecisionRepository(session).assigned([*mine, *others])
        has_own = set(evaluations.latest(others))
        for key, ev in mine.items():
            linked = [s for s in map(RecordKey.parse, ev.sides) if s != key]
            sides = [key, *(s for s in linked if s not in has_own)]
            rep = next((ledger[k] for k in [key, *linked] if k in ledger), None)
            try:
                with session.begin_nested():  # one lead's bug fails that lead only
                    r = rescored(ev, rep, m, run.as_of, sides)
                    self._apply(session, run, r, rep, now, m, stale(ev, maps))
            except Exception:
                log.exception("rescore.lead_failed", run=run.id, record=str(key))
                run.failed += 1
        inbox.release(held, worker_id)
        run.cursor = keys[-1]
        run.scanned += len(keys)
        run.busy += len(keys) - len(mine)

    def _apply(
        self,
        session: Session,
        run: RescoreRun,
        r: Rescored,
        rep: str | None,
        now: datetime,
        m: Mappings,
        reread: bool,
    ) -> None:
        if r.route or reread:
            # Ready now, or scored on a snapshot older than the fields the mappings read:
            # the live path reads the record, decides and writes.
            payload = {"rescore_run": run.id, "as_of": run.as_of.isoformat()}
            InboxRepository(session).enqueue(r.key, EVENT_TYPE, f"run {run.id}", payload, now)
            run.routed += 1
            return
        if not r.rescored:
            return
        row = r.row(run.as_of, m.version)
        if r.moved:
            ctx = Context(m.version, [], now, now)
            why = f"rescoring run #{run.id} as of {run.as_of:%Y-%m-%d %H:%M} UTC"
            outcome = r.qualified.outcome if r.qualified is not None else Outcome.RESCORED
            DecisionService(session).record_rescore(
                r.key, rep, r.score, r.values, ctx, outcome=outcome, why=why, qualified=r.qualified
            )
            run.changed += 1
        EvaluationRepository(session).save(row)


def stale(ev: LeadEvaluation, maps: FieldMaps) -> bool:
    """The lead was evaluated before fields.yaml mapped a field it maps now: its snapshot
    lacks the field, which only a read of the record can give."""
    key = RecordKey.parse(ev.record_key)
    mapped = maps.hubspot if key.crm is Crm.HUBSPOT else maps.salesforce.get(key.sobject, {})
    return not set(mapped) <= set(ev.lead)


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
        run.failed,
    )
