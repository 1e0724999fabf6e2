"""The worker loop. Many can run (threads, processes, machines); the database coordinates."""

from __future__ import annotations

import os
import socket
import threading
import traceback
import uuid
from datetime import timedelta
from typing import Literal

import structlog
from prometheus_client import Counter

from app.db import Database, utcnow
from app.inbox.repository import ClaimedEvent, InboxRepository
from app.mappings.loader import MappingsError
from app.outbox.service import OutboxDispatcher
from app.pauses.repository import PauseRepository
from app.pipeline.service import LeadPipeline, LeaseLost
from app.queue import RetryPolicy
from app.rescore.schedule import DailyRescore
from app.routing.assign import NoOwnerAvailable
from connectors.crm import Crm
from connectors.errors import Action, CrmError, resolve

log = structlog.get_logger("relais.worker")
Role = Literal["both", "inbox", "outbox"]
EVENTS = Counter("relais_inbox_events_settled_total", "Inbox events settled", ["outcome"])


def new_worker_id() -> str:
    return f"{socket.gethostname()[:30]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Worker:
    def __init__(
        self,
        db: Database,
        pipeline: LeadPipeline,
        outbox: OutboxDispatcher,
        *,
        policy: RetryPolicy,
        lease: timedelta,
        batch_size: int,
        poll_seconds: float,
        pause_for: timedelta,
        wakeup: threading.Event | None = None,
        worker_id: str | None = None,
        role: Role = "both",
        outbox_wakeup: threading.Event | None = None,
        reachable: tuple[Crm, ...] | None = None,
        rescore: DailyRescore | None = None,
    ) -> None:
        self.db = db
        self.pipeline = pipeline
        self.outbox = outbox
        self.policy = policy
        self.lease = lease
        self.batch_size = batch_size
        self.poll_seconds = poll_seconds
        self.pause_for = pause_for  # how long a spent daily quota pauses a CRM
        self.wakeup = wakeup or threading.Event()
        self.outbox_wakeup = outbox_wakeup
        self.role = role
        # The CRMs this worker can reach (None: every one); other CRMs' events wait.
        self.reachable = reachable
        self.id = worker_id or new_worker_id()
        self.rescore = rescore  # the daily rescoring, a batch per loop turn when due

    def run(self, stop: threading.Event) -> None:
        log.info("worker.started", worker=self.id)
        while not stop.is_set():
            try:
                busy = self.step()
            except Exception:  # the loop must survive a database hiccup
                log.exception("worker.step_failed", worker=self.id)
                busy = 0
            if not busy:
                self.wakeup.wait(self.poll_seconds)
                self.wakeup.clear()
        log.info("worker.stopped", worker=self.id)

    def step(self) -> int:
        """Claim and process one batch of events and/or send due writes (by role); returns
        the work done."""
        done = 0
        if self.role in ("both", "inbox"):
            done += self.pipeline.follow_mappings()
            with self.db.transaction() as session:
                events = InboxRepository(session).claim(
                    self.id,
                    utcnow(),
                    self.lease,
                    self.batch_size,
                    self.policy.max_attempts,
                    self.reachable,
                )
            if events:
                self._process(events)
                if self.outbox_wakeup is not None:
                    self.outbox_wakeup.set()  # the writes just decided can go out now
            done += len(events)
        if self.role in ("both", "outbox"):
            done += self.outbox.dispatch(self.id)
        if self.rescore is not None and self.role in ("both", "inbox"):
            done += self.rescore.step(self.id, utcnow())
        return done

    def _process(self, events: list[ClaimedEvent]) -> None:
        try:
            outcomes = self.pipeline.process(events, self.id, self.policy)
        except LeaseLost:
            log.warning("worker.lease_lost", worker=self.id, events=len(events))
            return
        except CrmError as exc:
            self._resolve(events, exc)
            return
        except MappingsError as exc:
            self._fail(events, f"mappings: {exc}")
            return
        except NoOwnerAvailable as exc:
            # Nobody can take a lead: retried with back-off while an admin fixes the team or
            # routing.yaml, then dead-lettered with this message.
            self._fail(events, f"an admin must act: {exc}")
            return
        except Exception as exc:
            # A bug of ours: keep the trace with the event so it can be fixed and replayed.
            log.exception("worker.bug", worker=self.id)
            trace = "".join(traceback.format_exception(exc, limit=-5))
            self._fail(events, f"{type(exc).__name__}: {exc}\n{trace}")
            return
        EVENTS.labels("done").inc(len(events))
        log.info("worker.batch_done", worker=self.id, events=len(events), **outcomes)

    def _resolve(self, events: list[ClaimedEvent], exc: CrmError) -> None:
        """Do what ``connectors.errors.resolve`` says about the error that stopped the batch."""
        resolution = resolve(exc, quota_pause=self.pause_for)
        if resolution.action in (Action.RETRY, Action.DEAD_LETTER):
            dead_now = resolution.action is Action.DEAD_LETTER
            self._fail(
                events, resolution.reason, retry_after=resolution.retry_after, dead_now=dead_now
            )
            return
        # Paused (every call would fail the same way) or handed back unsent: the events wait,
        # their attempts kept for when the CRM works again.
        until = utcnow() + resolution.pause
        crm = exc.crm or events[0].crm  # the CRM that refused, which need not be the source
        with self.db.transaction() as session:
            if resolution.action is Action.PAUSE:
                PauseRepository(session).pause(crm, until, resolution.reason)
            InboxRepository(session).postpone(events, self.id, until)
        if resolution.action is Action.PAUSE:
            log.error("crm.paused", crm=crm, until=until.isoformat(), reason=resolution.reason)

    def _fail(
        self,
        events: list[ClaimedEvent],
        error: str,
        *,
        retry_after: float = 0.0,
        dead_now: bool = False,
    ) -> None:
        with self.db.transaction() as session:
            dead = InboxRepository(session).fail(
                events,
                self.id,
                utcnow(),
                error,
                self.policy,
                retry_after=retry_after,
                dead_now=dead_now,
            )
        EVENTS.labels("dead").inc(dead)
        EVENTS.labels("retry").inc(len(events) - dead)
        log.warning(
            "worker.batch_failed",
            worker=self.id,
            events=len(events),
            dead=dead,
            error=error.splitlines()[0][:300],
        )
