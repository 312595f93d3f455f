"""Periodic jobs: periods aligned to the clock, one run per claimed period, stale triggers
dropped, failures recorded."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from application.periodic import PeriodicJobs, period_start


class MovableClock:
    def __init__(self, now: datetime) -> None:
        self.at = now

    def now(self) -> datetime:
        return self.at


class InMemoryRuns:
    """The PeriodicRuns port over a dict, as one database shared by many processes."""

    def __init__(self) -> None:
        self.rows: dict[tuple[str, datetime], str] = {}

    async def claim(self, job: str, period_start: datetime) -> bool:
        if (job, period_start) in self.rows:
            return False
        self.rows[job, period_start] = "running"
        return True

    async def finish(self, job: str, period_start: datetime, outcome: str) -> None:
        self.rows[job, period_start] = outcome


NOON = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


def test_periods_are_aligned_to_the_epoch() -> None:
    five = timedelta(minutes=5)
    assert period_start(NOON + timedelta(minutes=7, seconds=3), five) == NOON + timedelta(
        minutes=5)
    assert period_start(NOON, five) == NOON
    assert period_start(NOON + timedelta(milliseconds=1700), timedelta(seconds=0.5)) == (
        NOON + timedelta(milliseconds=1500))


async def test_a_period_runs_once_whichever_process_asks() -> None:
    runs, clock = InMemoryRuns(), MovableClock(NOON + timedelta(seconds=3))
    workers = [PeriodicJobs(runs, clock) for _ in range(3)]
    ran: list[int] = []
    period = timedelta(seconds=10)

    for index, worker in enumerate(workers):
        async def work(index: int = index) -> None:
            ran.append(index)

        await worker.run_once_per_period("sweep", period, work)
    assert ran == [0]
    assert runs.rows == {("sweep", NOON): "done"}

    clock.at = NOON + timedelta(seconds=12)
    for worker in workers:
        async def again() -> None:
            ran.append(9)

        await worker.run_once_per_period("sweep", period, again)
    assert ran == [0, 9]


async def test_a_late_trigger_claims_the_period_it_was_sent_for_or_is_dropped() -> None:
    runs, clock = InMemoryRuns(), MovableClock(NOON + timedelta(seconds=15))
    jobs, period = PeriodicJobs(runs, clock), timedelta(seconds=10)
    ran: list[str] = []

    async def work() -> None:
        ran.append("run")

    assert await jobs.run_once_per_period("sweep", period, work, NOON)
    assert ("sweep", NOON) in runs.rows
    # The current period is still to run; a trigger two periods old is dropped.
    assert await jobs.run_once_per_period("sweep", period, work)
    clock.at = NOON + timedelta(seconds=35)
    assert not await jobs.run_once_per_period("sweep", period, work,
                                              NOON + timedelta(seconds=10))
    assert ran == ["run", "run"]


async def test_a_failed_run_is_recorded_and_not_repeated_in_its_period() -> None:
    runs, clock = InMemoryRuns(), MovableClock(NOON)
    jobs, period = PeriodicJobs(runs, clock), timedelta(seconds=10)

    async def broken() -> None:
        raise RuntimeError("provider down")

    with pytest.raises(RuntimeError):
        await jobs.run_once_per_period("reconcile", period, broken)
    assert runs.rows == {("reconcile", NOON): "failed"}
    assert not await jobs.run_once_per_period("reconcile", period, broken)
