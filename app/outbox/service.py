"""Send queued writes to the CRM in batches and settle each record's result."""

from __future__ import annotations

from datetime import timedelta

import structlog
from prometheus_client import Counter

from app.db import Database, utcnow
from app.inbox.repository import InboxRepository
from app.outbox.repository import ClaimedWrite, OutboxRepository
from app.queue import RetryPolicy
from connectors.errors import CrmError, ErrorKind, QuotaExhausted
from connectors.hubspot.port import OWNER_PROPERTY, ContactUpdate, HubSpotPort

log = structlog.get_logger("relais.outbox")
ADMIN_PAUSE = timedelta(minutes=5)
WRITES = Counter("relais_outbox_writes_total", "CRM writes settled", ["connector", "outcome"])


class OutboxDispatcher:
    def __init__(
        self,
        db: Database,
        hubspot: HubSpotPort,
        policy: RetryPolicy,
        lease: timedelta,
        pause_for: timedelta,
        batch_size: int = 100,
    ) -> None:
        self.db = db
        self.hubspot = hubspot
        self.policy = policy
        self.lease = lease
        self.pause_for = pause_for
        self.batch_size = batch_size

    def dispatch(self, worker_id: str) -> int:
        """Send one batch of due writes; returns how many were claimed."""
        now = utcnow()
        with self.db.transaction() as session:
            paused = InboxRepository(session).paused_sources(now)
            writes = OutboxRepository(session).claim(
                worker_id, now, self.lease, self.batch_size, self.policy.max_attempts, paused
            )
        if not writes:
            return 0
        try:
            writes = self._drop_overtaken(writes, worker_id)
        except CrmError as exc:
            self._settle_error(writes, worker_id, exc)
            return len(writes)
        if not writes:
            return 0
        by_id = {w.object_id: w for w in writes}
        try:
            result = self.hubspot.update_contacts(
                [
                    ContactUpdate(w.object_id, {k: str(v) for k, v in w.properties.items()})
                    for w in writes
                ]
            )
        except CrmError as exc:
            self._settle_error(writes, worker_id, exc)
            return len(writes)
        with self.db.transaction() as session:
            repo = OutboxRepository(session)
            done = [by_id[i] for i in result.updated if i in by_id]
            repo.sent(done, worker_id, utcnow())
            WRITES.labels("hubspot", "sent").inc(len(done))
            for failure in result.failed:
                failed = by_id.get(failure.id)
                if failed is None:
                    continue
                # A record missing in HubSpot will not come back by retrying.
                dead = repo.fail(
                    failed,
                    worker_id,
                    utcnow(),
                    failure.message,
                    self.policy,
                    dead_now=failure.category == "OBJECT_NOT_FOUND",
                )
                WRITES.labels("hubspot", "dead" if dead else "retry").inc()
                log.warning("outbox.record_failed", object_id=failure.id, error=failure.message)
        return len(writes)

    def _settle_error(self, writes: list[ClaimedWrite], worker_id: str, exc: CrmError) -> None:
        if isinstance(exc, QuotaExhausted):
            self._pause(writes, worker_id, exc, self.pause_for)
        elif exc.kind is ErrorKind.ADMIN and exc.status in (401, 403):
            # Credentials refused: nothing can be written until an admin fixes them.
            self._pause(writes, worker_id, exc, ADMIN_PAUSE)
        else:
            self._fail_all(writes, worker_id, exc)

    def _fail_all(self, writes: list[ClaimedWrite], worker_id: str, exc: CrmError) -> None:
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
                WRITES.labels("hubspot", "dead" if dead else "retry").inc()
        log.warning("outbox.batch_failed", size=len(writes), error=str(exc))

    def _drop_overtaken(self, writes: list[ClaimedWrite], worker_id: str) -> list[ClaimedWrite]:
        """A write sent again (retry, replay, crashed worker) must not overwrite an owner that
        a person set in the meantime: re-read those contacts and settle the overtaken ones."""
        again = [w for w in writes if w.attempts > 1]
        if not again:
            return writes
        current = self.hubspot.read_contacts([w.object_id for w in again], [OWNER_PROPERTY])
        overtaken = []
        for w in again:
            contact = current.found.get(w.object_id)
            owner = contact.properties.get(OWNER_PROPERTY) if contact else None
            if owner and owner != str(w.properties.get(OWNER_PROPERTY)):
                overtaken.append(w)
        if not overtaken:
            return writes
        with self.db.transaction() as session:
            OutboxRepository(session).overtaken(overtaken, worker_id, utcnow())
        WRITES.labels("hubspot", "overtaken").inc(len(overtaken))
        log.info("outbox.overtaken", count=len(overtaken))
        done = {w.id for w in overtaken}
        return [w for w in writes if w.id not in done]

    def _pause(
        self, writes: list[ClaimedWrite], worker_id: str, exc: CrmError, duration: timedelta
    ) -> None:
        until = utcnow() + duration
        with self.db.transaction() as session:
            InboxRepository(session).pause_connector("hubspot", until, str(exc))
            OutboxRepository(session).postpone(writes, worker_id, until)
        log.error("connector.paused", connector="hubspot", until=until.isoformat(), reason=str(exc))
