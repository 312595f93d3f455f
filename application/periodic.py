"""Periodic jobs (sweeps, reconciliation, retention, ...) run once per period across the
cluster, however many worker processes schedule them.

Periods are aligned to the epoch (a 300 s job's periods start at :00, :05, ...), so every
process names the same period; the first to claim it runs the job, the others skip it. A run
that fails or dies is not repeated within its period: the next period makes it up. Runs of
one job can overlap when a run outlasts its period.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from application.ports import Clock, PeriodicRuns

log = logging.getLogger("mall.periodic")

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def period_start(now: datetime, period: timedelta) -> datetime:
    """The start of the period of length `period` that `now` falls in."""
    return now - (now - EPOCH) % period


class PeriodicJobs:
    def __init__(self, runs: PeriodicRuns, clock: Clock) -> None:
        self._runs = runs
        self._clock = clock

    async def run_once_per_period(
        self, job: str, period: timedelta, work: Callable[[], Awaitable[None]],
        scheduled_for: datetime | None = None,
    ) -> bool:
        """Run `work` for the period `scheduled_for` falls in (the current one when None)
        unless another process already claimed that period; True when it ran here. A trigger
        that reaches us after its period and the next one are over is dropped: a later run
        has already made up for it, or will."""
        now = self._clock.now()
        start = period_start(scheduled_for or now, period)
        if now - start >= 2 * period:
            log.info("%s: dropping the run for the period starting %s, sent too long ago",
                     job, start.isoformat())
            return False
        if not await self._runs.claim(job, start):
            log.debug("%s: the period starting %s is run by another process", job,
                      start.isoformat())
            return False
        outcome = "failed"
        try:
            await work()
            outcome = "done"
        finally:
            await self._runs.finish(job, start, outcome)
        return True
