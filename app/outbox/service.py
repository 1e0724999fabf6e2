"""Send queued writes in batches, one per (CRM, kind), and settle every record's result."""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import datetime, timedelta

import structlog
from prometheus_client import Counter
from sqlalchemy.orm import Session

from app.config import LEASE_SEND_SHARE
from app.db import Database, utcnow
from app.evaluations.repository import EvaluationRepository
from app.mappings.loader import MappingsStore
from app.outbox.models import WriteKind
from app.outbox.repository import ClaimedWrite, OutboxRepository, Superseded
from app.outbox.resend import Resend
from app.outbox.writers import Registry, Team, Writer, sendable
from app.pauses.repository import PauseRepository
from app.queue import RetryPolicy
from app.team.directory import OwnerDirectory
from connectors.crm import Crm, RecordKey
from connectors.errors import Action, CrmError, Resolution, resolve
from connectors.results import UpdateFailure

log = structlog.get_logger("relais.outbox")
# A first attempt older than this (it waited out a pause) re-reads the record before sending.
RECHECK_AFTER = timedelta(seconds=30)
WRITES = Counter("relais_outbox_writes_total", "CRM writes settled", ["crm", "outcome"])
Group = tuple[Crm, WriteKind]


class OutboxDispatcher:
    def __init__(
        self,
        db: Database,
        writers: Registry,
        policy: RetryPolicy,
        lease: timedelta,
        pause_for: timedelta,
        *,
        mappings: MappingsStore,
        owners: OwnerDirectory,
        batch_size: int = 100,
        recheck_after: timedelta = RECHECK_AFTER,
    ) -> None:
        self.db = db
        self.writers = writers
        self.mappings = mappings
        self.owners = owners
        # One thread per (CRM, kind) batch: each goes out at the same time.
        workers = max(1, len(Crm) * len(WriteKind))
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="crm-write")
        self.policy = policy
        self.lease = lease
        self.pause_for = pause_for  # how long a spent daily quota pauses a CRM
        self.batch_size = batch_size
        self.recheck_after = recheck_after

    def dispatch(self, worker_id: str) -> int:
        """Send one batch of due writes (grouped per CRM and kind); returns how many were
        claimed. Writes this process cannot send (CRM paused, or no writer) wait."""
        # No send may still be under way when the lease ends and another worker may take the
        # same write: the margin covers the clock reads and the commit around the claim.
        deadline = time.monotonic() + self.lease.total_seconds() * LEASE_SEND_SHARE
        claimed, replaced, batches = self._claim(worker_id)
        self._supersede(replaced, worker_id)
        # Each batch goes out at the same time: latency is one round trip, not the sum.
        futures = [
            self._pool.submit(self._send_or_settle, group, batch, worker_id, deadline)
            for group, batch in batches.items()
        ]
        for future in futures:
            future.result()
        return claimed

    def _claim(
        self, worker_id: str
    ) -> tuple[int, list[Superseded], dict[Group, list[ClaimedWrite]]]:
        """Claim due writes: (how many, those later writes made moot, the batches to send).
        A field a later write sets again is not sent (a write left with none is superseded).
        One write per record goes out at a time, the oldest first: a record's others are
        handed back unsent for the next round, so that two writes to a record never cross."""
        now = utcnow()
        replaced: list[Superseded] = []
        batches: dict[Group, list[ClaimedWrite]] = defaultdict(list)
        with self.db.transaction() as session:
            groups = sendable(self.writers, PauseRepository(session).paused(now))
            repo = OutboxRepository(session)
            writes = repo.claim(
                worker_id, now, self.lease, self.batch_size, self.policy.max_attempts, groups
            )
            rewritten = repo.rewritten(writes)
            records, later = set(), []
            for w in writes:  # oldest first
                again = rewritten.get(w.id)
                if again is not None and again.fields >= set(w.fields):
                    why = (
                        f"a later decision (#{again.decision_id}) wrote this record again "
                        f"(outbox write #{again.write_id})"
                    )
                    replaced.append(Superseded(w, why))
                    continue
                if again is not None:
                    kept = {k: v for k, v in w.fields.items() if k not in again.fields}
                    w = replace(w, fields=kept)
                if (w.crm, w.object_id) in records:
                    later.append(w)
                    continue
                records.add((w.crm, w.object_id))
                batches[(w.crm, w.kind)].append(w)
            if later:
                repo.postpone(later, worker_id, now)
        return len(writes), replaced, batches

    def _send_or_settle(
        self, group: Group, writes: list[ClaimedWrite], worker_id: str, deadline: float
    ) -> None:
        crm, kind = group
        try:
            writer = self.writers[crm][kind]
            writes = self._recheck(crm, writer, writes, worker_id)
            if writes:
                result = writer.send(writes, deadline)
                self._settle(crm, writes, worker_id, result.updated, result.failed)
        except CrmError as exc:
            resolution = resolve(exc, quota_pause=self.pause_for)
            with self.db.transaction() as session:
                self._apply(session, crm, [(w, resolution) for w in writes], worker_id)
            log.warning(
                "outbox.batch_failed",
                crm=crm,
                size=len(writes),
                action=resolution.action,
                error=resolution.reason,
            )

    def _recheck(
        self, crm: Crm, writer: Writer, writes: list[ClaimedWrite], worker_id: str
    ) -> list[ClaimedWrite]:
        """A write sent again (a retry, a replay, a worker that died mid-send) or one that
        waited (a pause) is first judged by its writer (an owner write re-reads the owner: see
        ``app.outbox.resend``). First attempts go straight out: their window is milliseconds."""
        stale_before = utcnow() - self.recheck_after
        again = [w for w in writes if w.attempts > 1 or w.created_at < stale_before]
        if not again:
            return writes
        team = Team({r.email for r in self.mappings.current.team.reps}, self.owners.email_of)
        verdicts = writer.judge_again(again, team)
        action = {i: verdict.action for i, verdict in verdicts.items()}
        confirmed = [w for w in again if action.get(w.id) is Resend.CONFIRMED]
        superseded = [
            Superseded(w, verdicts[w.id].reason, verdicts[w.id].rep)
            for w in again
            if action.get(w.id) is Resend.SUPERSEDED
        ]
        if confirmed:
            with self.db.transaction() as session:
                OutboxRepository(session).sent(confirmed, worker_id, utcnow())
            WRITES.labels(crm, "confirmed").inc(len(confirmed))
            log.info("outbox.confirmed_by_crm", crm=crm, count=len(confirmed))
        self._supersede(superseded, worker_id)
        settled = {w.id for w in confirmed} | {s.write.id for s in superseded}
        return [w for w in writes if w.id not in settled]

    def _supersede(self, items: list[Superseded], worker_id: str) -> None:
        if not items:
            return
        with self.db.transaction() as session:
            OutboxRepository(session).supersede(items, worker_id, utcnow())
        for item in items:
            WRITES.labels(item.write.crm, "superseded").inc()
            log.info(
                "outbox.superseded",
                crm=item.write.crm,
                record=item.write.record_key,
                decision=item.write.decision_id,
                reason=item.reason,
            )

    def _settle(
        self,
        crm: Crm,
        writes: list[ClaimedWrite],
        worker_id: str,
        updated: list[str],
        failed: list[UpdateFailure],
    ) -> None:
        by_id = {w.object_id: w for w in writes}
        done = [by_id[i] for i in updated if i in by_id]
        refused = [
            (by_id[f.id], resolve(f, quota_pause=self.pause_for)) for f in failed if f.id in by_id
        ]
        with self.db.transaction() as session:
            OutboxRepository(session).sent(done, worker_id, utcnow())
            self._apply(session, crm, refused, worker_id)
            # A record deleted, merged or converted is no lead to rescore any more.
            gone = [RecordKey.parse(w.record_key) for w, r in refused if r.gone]
            EvaluationRepository(session).forget(gone)
        WRITES.labels(crm, "sent").inc(len(done))
        for write, resolution in refused:
            log.warning(
                "outbox.record_failed",
                crm=crm,
                object_id=write.object_id,
                action=resolution.action,
                error=resolution.reason,
            )

    def _apply(
        self,
        session: Session,
        crm: Crm,
        resolved: Sequence[tuple[ClaimedWrite, Resolution]],
        worker_id: str,
    ) -> None:
        """Do what each write's resolution says, in the caller's transaction. A write handed
        back or waiting out a pause keeps its attempt: it was not sent."""
        repo, now = OutboxRepository(session), utcnow()
        for pause in dict.fromkeys(r for _, r in resolved if r.action is Action.PAUSE):
            PauseRepository(session).pause(crm, now + pause.pause, pause.reason)
            log.error(
                "crm.paused", crm=crm, until=(now + pause.pause).isoformat(), reason=pause.reason
            )
        waiting: dict[datetime, list[ClaimedWrite]] = defaultdict(list)
        for write, resolution in resolved:
            if resolution.action in (Action.HAND_BACK, Action.PAUSE):
                waiting[now + resolution.pause].append(write)
                outcome = "handed_back" if resolution.action is Action.HAND_BACK else "paused"
            else:
                dead = repo.fail(
                    write,
                    worker_id,
                    now,
                    resolution.reason,
                    self.policy,
                    retry_after=resolution.retry_after,
                    dead_now=resolution.action is Action.DEAD_LETTER,
                )
                outcome = "dead" if dead else "retry"
            WRITES.labels(crm, outcome).inc()
        for until, writes in waiting.items():
            repo.postpone(writes, worker_id, until)
