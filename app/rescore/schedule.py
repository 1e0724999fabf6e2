"""The daily rescoring, run by the workers between their batches of events.

Each day after ``RELAIS_RESCORE_DAILY_AT`` (UTC), the first worker to look starts the day's
run (named by its day: one per day whichever worker starts it); every worker then rescores
one batch of it per loop turn, after the inbox and the outbox, until it is finished.
"""

from __future__ import annotations

from datetime import datetime, time

from app.rescore.service import Rescorer


class DailyRescore:
    def __init__(self, rescorer: Rescorer, at: time) -> None:
        self.rescorer = rescorer
        self.at = at
        self._done: str | None = None  # the day whose run this process saw finished

    def step(self, worker_id: str, now: datetime) -> int:
        """Rescore one batch of today's run when it is due; returns the leads scanned."""
        day = f"daily-{now:%Y-%m-%d}"
        if self._done == day or now.time() < self.at:
            return 0
        run = self.rescorer.start(day, as_of=now)
        for earlier in self.rescorer.unfinished("daily-"):
            if earlier != run:  # still going at midnight: today's run covers every lead again
                self.rescorer.abandon(earlier)
        progress = self.rescorer.step(run, worker_id)  # a batch, unless another worker is on it
        if progress.finished:
            self._done = day
        return progress.batch
