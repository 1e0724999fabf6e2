"""Send queued writes to each CRM in batches and settle every record's result."""

from __future__ import annotations

import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import structlog
from prometheus_client import Counter

from app.config import LEASE_SEND_SHARE
from app.db import Database, utcnow
from app.inbox.repository import InboxRepository
from app.mappings.loader import MappingsStore
from app.outbox.repository import ClaimedWrite, OutboxRepository, Superseded
from app.outbox.resend import Resend, judge
from app.outbox.writers import OwnerWriter
from app.queue import RetryPolicy
from app.team.directory import CRMS, OwnerDirectory
from connectors.errors import LEASE_ENDING, CrmError, ErrorKind, QuotaExhausted
from connectors.hubspot.port import UpdateFailure
from connectors.salesforce.client import ADMIN_RECORD_ERRORS

log = structlog.get_logger("relais.outbox")
ADMIN_PAUSE = timedelta(minutes=5)
# A first attempt older than this (it waited out a pause) re-reads the record before sending.
RECHECK_AFTER = timedelta(seconds=30)
WRITES = Counter("relais_outbox_writes_total", "CRM writes settled", ["connector", "outcome"])
# Per-record failures that retrying cannot fix: dead-letter at once, with the CRM's words.
FINAL_FAILURES = {"OBJECT_NOT_FOUND", *ADMIN_RECORD_ERRORS}


class OutboxDispatcher:
    def __init__(
        self,
        db: Database,
        writers: dict[str, OwnerWriter],
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
        self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="crm-write")
        self.policy = policy
        self.lease = lease
        self.pause_for = pause_for
        self.batch_size = batch_size
        self.recheck_after = recheck_after

    def dispatch(self, worker_id: str) -> int:
        """Send one batch of due writes (grouped per CRM); returns how many were claimed.
        Writes to a CRM this process cannot reach (paused, or not configured) wait."""
        now = utcnow()
        # No send may still be under way when the lease ends and another worker may take the
        # same write: the margin covers the clock reads and the commit around the claim.
        deadline = time.monotonic() + self.lease.total_seconds() * LEASE_SEND_SHARE
        with self.db.transaction() as session:
            paused = InboxRepository(session).paused_sources(now)
            unreachable = sorted({*paused, *(c for c in CRMS if c not in self.writers)})
            repo = OutboxRepository(session)
            writes = repo.claim(
                worker_id, now, self.lease, self.batch_size, self.policy.max_attempts, unreachable
            )
            newer = repo.newer_writes(writes)
        if newer:
            replaced = [
                Superseded(
                    w,
                    f"a later decision (#{newer[w.id][1]}) wrote this record again "
                    f"(outbox write #{newer[w.id][0]})",
                )
                for w in writes
                if w.id in newer
            ]
            self._supersede(replaced, worker_id)
        by_connector: dict[str, list[ClaimedWrite]] = defaultdict(list)
        for w in writes:
            if w.id not in newer:
                by_connector[w.connector].append(w)
        # Each CRM's batch goes out at the same time: latency is one round trip, not the sum.
        futures = [
            self._pool.submit(self._send_or_settle, connector, group, worker_id, deadline)
            for connector, group in by_connector.items()
        ]
        for future in futures:
            future.result()
        return len(writes)

    def _send_or_settle(
        self, connector: str, group: list[ClaimedWrite], worker_id: str, deadline: float
    ) -> None:
        try:
            self._send(connector, group, worker_id, deadline)
        except CrmError as exc:
            self._settle_error(connector, group, worker_id, exc)

    def _send(
        self, connector: str, writes: list[ClaimedWrite], worker_id: str, deadline: float
    ) -> None:
        writer = self.writers[connector]
        writes = self._recheck(connector, writer, writes, worker_id)
        if not writes:
            return
        result = writer.send(writes, deadline)
        self._settle(connector, writes, worker_id, result.updated, result.failed)

    def _recheck(
        self, connector: str, writer: OwnerWriter, writes: list[ClaimedWrite], worker_id: str
    ) -> list[ClaimedWrite]:
        """A write sent again (a retry, a replay, a worker that died mid-send) or one that
        waited (a pause) first re-reads the record: see ``app.outbox.resend``. First attempts
        go straight out: their window is milliseconds."""
        stale_before = utcnow() - self.recheck_after
        again = [w for w in writes if w.attempts > 1 or w.created_at < stale_before]
        if not again:
            return writes
        current = writer.current_owners(again)
        team = {r.email for r in self.mappings.current.team.reps}
        confirmed: list[ClaimedWrite] = []
        superseded: list[Superseded] = []
        for w in again:
            known, before = w.owner_before
            verdict = judge(
                crm=connector,
                ours=w.owner_id,
                our_rep=w.rep,
                before=before,
                before_known=known,
                current=current.get(w.object_id),
                found=w.object_id in current,
                rep_of=lambda owner_id: self.owners.email_of(connector, owner_id),
                team=team,
            )
            if verdict.action is Resend.CONFIRMED:
                confirmed.append(w)
            elif verdict.action is Resend.SUPERSEDED:
                superseded.append(Superseded(w, verdict.reason, verdict.rep))
        if confirmed:
            with self.db.transaction() as session:
                OutboxRepository(session).sent(confirmed, worker_id, utcnow())
            WRITES.labels(connector, "confirmed").inc(len(confirmed))
            log.info("outbox.confirmed_by_crm", connector=connector, count=len(confirmed))
        self._supersede(superseded, worker_id)
        settled = {w.id for w in confirmed} | {s.write.id for s in superseded}
        return [w for w in writes if w.id not in settled]

    def _supersede(self, items: list[Superseded], worker_id: str) -> None:
        if not items:
            return
        with self.db.transaction() as session:
            OutboxRepository(session).supersede(items, worker_id, utcnow())
        for item in items:
            WRITES.labels(item.write.connector, "superseded").inc()
            log.info(
                "outbox.superseded",
                connector=item.write.connector,
                record=item.write.record_key,
                decision=item.write.decision_id,
                reason=item.reason,
            )

    def _settle(
        self,
        connector: str,
        writes: list[ClaimedWrite],
        worker_id: str,
        updated: list[str],
        failed: list[UpdateFailure],
    ) -> None:
        by_id = {w.object_id: w for w in writes}
        with self.db.transaction() as session:
            repo = OutboxRepository(session)
            done = [by_id[i] for i in updated if i in by_id]
            repo.sent(done, worker_id, utcnow())
            WRITES.labels(connector, "sent").inc(len(done))
            for failure in failed:
                write = by_id.get(failure.id)
                if write is None:
                    continue
                dead = repo.fail(
                    write,
                    worker_id,
                    utcnow(),
                    failure.message,
                    self.policy,
                    dead_now=failure.category in FINAL_FAILURES,
                )
                WRITES.labels(connector, "dead" if dead else "retry").inc()
                log.warning(
                    "outbox.record_failed",
                    connector=connector,
                    object_id=failure.id,
                    error=failure.message,
                )

    def _settle_error(
        self, connector: str, writes: list[ClaimedWrite], worker_id: str, exc: CrmError
    ) -> None:
        if exc.category == LEASE_ENDING:
            # Nothing was sent: the writes go straight back, their attempt not counted.
            with self.db.transaction() as session:
                OutboxRepository(session).postpone(writes, worker_id, utcnow())
            WRITES.labels(connector, "handed_back").inc(len(writes))
            return
        if isinstance(exc, QuotaExhausted):
            self._pause(connector, writes, worker_id, exc, self.pause_for)
        elif exc.kind is ErrorKind.ADMIN and exc.status in (401, 403):
            # Credentials refused: nothing can be written until an admin fixes them.
            self._pause(connector, writes, worker_id, exc, ADMIN_PAUSE)
        else:
            with self.db.transaction() as session:
                repo = OutboxRepository(session)
                for w in writes:
                    dead = repo.fail(
                        w,
                        worker_id,
                        utcnow(),
                        str(exc),
                        self.policy,
                        retry_after=exc.retry_after or 0.0,
                        dead_now=exc.kind is ErrorKind.BUG,
                    )
                    WRITES.labels(connector, "dead" if dead else "retry").inc()
            log.warning(
                "outbox.batch_failed", connector=connector, size=len(writes), error=str(exc)
            )

    def _pause(
        self,
        connector: str,
        writes: list[ClaimedWrite],
        worker_id: str,
        exc: CrmError,
        duration: timedelta,
    ) -> None:
        until = utcnow() + duration
        with self.db.transaction() as session:
            InboxRepository(session).pause_connector(connector, until, str(exc))
            OutboxRepository(session).postpone(writes, worker_id, until)
        log.error("connector.paused", connector=connector, until=until.isoformat(), reason=str(exc))
