"""Send queued writes to each CRM in batches and settle every record's result."""

from __future__ import annotations

from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import structlog
from prometheus_client import Counter

from app.db import Database, utcnow
from app.inbox.repository import InboxRepository
from app.outbox.repository import ClaimedWrite, OutboxRepository
from app.queue import RetryPolicy
from app.team.directory import OwnerDirectory
from connectors.errors import CrmError, ErrorKind, QuotaExhausted
from connectors.hubspot.port import OWNER_PROPERTY, ContactUpdate, HubSpotPort, UpdateFailure
from connectors.salesforce.client import ADMIN_RECORD_ERRORS
from connectors.salesforce.port import OwnerUpdate, SalesforcePort

log = structlog.get_logger("relais.outbox")
ADMIN_PAUSE = timedelta(minutes=5)
WRITES = Counter("relais_outbox_writes_total", "CRM writes settled", ["connector", "outcome"])
# Per-record failures that retrying cannot fix: dead-letter at once, with the CRM's words.
FINAL_FAILURES = {"OBJECT_NOT_FOUND", *ADMIN_RECORD_ERRORS}


class OutboxDispatcher:
    def __init__(
        self,
        db: Database,
        hubspot: HubSpotPort,
        policy: RetryPolicy,
        lease: timedelta,
        pause_for: timedelta,
        batch_size: int = 100,
        salesforce: SalesforcePort | None = None,
        owners: OwnerDirectory | None = None,
    ) -> None:
        self.db = db
        self.owners = owners
        self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="crm-write")
        self.hubspot = hubspot
        self.salesforce = salesforce
        self.policy = policy
        self.lease = lease
        self.pause_for = pause_for
        self.batch_size = batch_size

    def dispatch(self, worker_id: str) -> int:
        """Send one batch of due writes (grouped per CRM); returns how many were claimed."""
        now = utcnow()
        with self.db.transaction() as session:
            paused = InboxRepository(session).paused_sources(now)
            writes = OutboxRepository(session).claim(
                worker_id, now, self.lease, self.batch_size, self.policy.max_attempts, paused
            )
        newest: dict[tuple[str, str], ClaimedWrite] = {}
        for w in writes:  # claimed in id order: a later write for a record supersedes
            newest[(w.connector, w.object_id)] = w
        superseded = [w for w in writes if newest[(w.connector, w.object_id)] is not w]
        if superseded:
            with self.db.transaction() as session:
                OutboxRepository(session).overtaken(superseded, worker_id, utcnow())
        by_connector: dict[str, list[ClaimedWrite]] = defaultdict(list)
        for w in newest.values():
            by_connector[w.connector].append(w)
        # Each CRM's batch goes out at the same time: latency is one round trip, not the sum.
        futures = [
            self._pool.submit(self._send_or_settle, connector, group, worker_id)
            for connector, group in by_connector.items()
        ]
        for future in futures:
            future.result()
        return len(writes)

    def _send_or_settle(self, connector: str, group: list[ClaimedWrite], worker_id: str) -> None:
        try:
            self._send(connector, group, worker_id)
        except CrmError as exc:
            self._settle_error(connector, group, worker_id, exc)

    def _send(self, connector: str, writes: list[ClaimedWrite], worker_id: str) -> None:
        if connector == "hubspot":
            writes = self._drop_overtaken(writes, worker_id)
            if not writes:
                return
            result = self.hubspot.update_contacts(
                [
                    ContactUpdate(w.object_id, {OWNER_PROPERTY: str(w.properties[OWNER_PROPERTY])})
                    for w in writes
                ]
            )
            updated, failed = result.updated, result.failed
        elif connector == "salesforce" and self.salesforce is not None:
            writes = self._drop_reassigned_in_salesforce(self.salesforce, writes, worker_id)
            if not writes:
                return
            sf = self.salesforce.update_owners(
                [
                    OwnerUpdate(
                        w.object_id, str(w.properties["sobject"]), str(w.properties["OwnerId"])
                    )
                    for w in writes
                ]
            )
            updated, failed = sf.updated, sf.failed
        else:
            updated, failed = (
                [],
                [
                    UpdateFailure(
                        w.object_id, f"connector {connector!r} is not configured", "NOT_CONFIGURED"
                    )
                    for w in writes
                ],
            )
        self._settle(connector, writes, worker_id, updated, failed)

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

    def _drop_reassigned_in_salesforce(
        self, salesforce: SalesforcePort, writes: list[ClaimedWrite], worker_id: str
    ) -> list[ClaimedWrite]:
        """A Salesforce write sent again (retry, replay, crashed worker) is left undone when a
        rep of the team got the record meanwhile. Every Salesforce record has an owner (its
        creator, a queue, the integration user): only a rep of the team means a person assigned
        it. First attempts go straight out, as for HubSpot: their window is milliseconds."""
        if self.owners is None:
            return writes
        by_object: dict[str, list[ClaimedWrite]] = defaultdict(list)
        for w in writes:
            if w.attempts > 1:
                by_object[str(w.properties["sobject"])].append(w)
        overtaken: list[ClaimedWrite] = []
        for sobject, group in by_object.items():
            current = salesforce.read_records(sobject, [w.object_id for w in group], ["OwnerId"])
            for w in group:
                rec = current.get(w.object_id)
                owner = str(rec.fields.get("OwnerId") or "") if rec else ""
                if (
                    owner
                    and owner != w.properties["OwnerId"]
                    and self.owners.email_of("salesforce", owner)
                ):
                    overtaken.append(w)
        return self._settle_overtaken("salesforce", writes, overtaken, worker_id)

    def _settle_overtaken(
        self,
        connector: str,
        writes: list[ClaimedWrite],
        overtaken: list[ClaimedWrite],
        worker_id: str,
    ) -> list[ClaimedWrite]:
        if not overtaken:
            return writes
        with self.db.transaction() as session:
            OutboxRepository(session).overtaken(overtaken, worker_id, utcnow())
        WRITES.labels(connector, "overtaken").inc(len(overtaken))
        log.info("outbox.overtaken", connector=connector, count=len(overtaken))
        done = {w.id for w in overtaken}
        return [w for w in writes if w.id not in done]

    def _drop_overtaken(self, writes: list[ClaimedWrite], worker_id: str) -> list[ClaimedWrite]:
        """A HubSpot write sent again (retry, replay, crashed worker) must not overwrite an
        owner that a person set meanwhile: re-read those contacts and settle the overtaken."""
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
        return self._settle_overtaken("hubspot", writes, overtaken, worker_id)

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
