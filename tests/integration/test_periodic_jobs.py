"""Periodic jobs run once per period across the cluster: three worker processes on one
database and one Redis run each job once per period, not three times."""

from __future__ import annotations

import asyncio
import json
import math
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

import bootstrap
from adapters.clock import SystemClock
from adapters.persistence.periodic import PiccoloPeriodicRuns
from adapters.persistence.tables import PeriodicRun
from domain.evidence import EvidenceDraft
from entrypoints import actors
from tests.conftest import reset_database
from tests.helpers import eventually
from tests.integration.worker_processes import on_redis, start_worker, stop_workers
from tests.sql_statements import count_statements

PERIODS = {"sweep_interval_seconds": 3.0, "reconcile_interval_seconds": 3.0,
           "retention_interval_seconds": 3.0, "evidence_checkpoint_interval_seconds": 2.0,
           "delivery_incident_check_interval_seconds": 2.0,
           "delivery_tracker_recheck_interval_seconds": 2.0,
           "campaign_send_interval_seconds": 2.0,
           "deferred_messages_interval_seconds": 2.0, "consent_reminder_interval_seconds": 2.0,
           "alert_escalation_check_interval_seconds": 2.0,
           "provider_retirement_interval_seconds": 2.0}


async def test_one_claim_per_period_among_concurrent_claimants(
        settings_factory: Any, engine_name: str) -> None:
    container = bootstrap.build(settings_factory())
    await reset_database(container)
    runs = PiccoloPeriodicRuns(SystemClock())
    start = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)

    claims = await asyncio.gather(*(runs.claim("sweep", start) for _ in range(8)))
    assert claims.count(True) == 1
    assert await runs.claim("reconcile", start), "each job has periods of its own"
    await runs.finish("sweep", start, "done")
    row = await PeriodicRun.select().where(PeriodicRun.job == "sweep").first()
    assert row is not None and row["outcome"] == "done" and row["finished_at"]

    # A day later the old runs are purged as new ones are claimed.
    with count_statements() as seen:
        assert await runs.claim("sweep", start + timedelta(days=1, seconds=10))
    if engine_name == "postgres":
        assert seen.count == 1  # the claim with the purge
    assert await PeriodicRun.count().where(PeriodicRun.job == "sweep") == 1
    assert await PeriodicRun.count().where(PeriodicRun.job == "reconcile") == 1


@pytest.mark.redis
@pytest.mark.timeout(180)
async def test_three_workers_run_each_periodic_job_once_per_period(
    settings_factory: Any, tmp_path: Path,
) -> None:
    settings, container = await on_redis(settings_factory, **PERIODS)
    await container.ledger().record(EvidenceDraft("test", "note", "order:o1", {}, {"n": 1}))

    logs = [tmp_path / f"worker-{n}.log" for n in range(3)]
    workers = [start_worker(settings, log, worker_threads=2, **PERIODS) for log in logs]
    try:
        async def all_running() -> bool:
            return all(log.exists() and b"worker running" in log.read_bytes() for log in logs)

        await eventually(all_running, timeout=60, what="three workers to start")
        periods = actors.periods(container)
        # A worker's scheduler sends from the first period that begins after it started
        # (which can be a moment after its "running" line): count from one period later.
        first = time.time() + max(periods.values())

        async def three_periods_each() -> bool:
            # Waited for, not slept on: on a busy machine a period's run can come late.
            done = await PeriodicRun.select(PeriodicRun.job, PeriodicRun.period_start).where(
                PeriodicRun.outcome == "done")
            return all(sum(1 for row in done if row["job"] == name
                           and row["period_start"].timestamp() >= first) >= 3
                       for name in periods)

        await eventually(three_periods_each, timeout=90, what="three periods of each job")
    finally:
        stop_workers(*workers)
    output = "\n".join(log.read_text()[-2000:] for log in logs)

    rows = await PeriodicRun.select()
    holders = {row["holder"] for row in rows}
    assert len(holders) > 1, f"one process ran every job; were three running?\n{output}"
    for name, period in periods.items():
        # Every period from the first that began once all three were running to the last
        # that ran: none skipped, each once (its row is the claim).
        latest = max(row["period_start"].timestamp() for row in rows
                     if row["job"] == name and row["outcome"] == "done")
        expected = [index * period for index in range(math.ceil(first / period),
                                                      round(latest / period) + 1)]
        assert len(expected) >= 3
        ran = sorted(row["period_start"].timestamp() for row in rows if row["job"] == name
                     and expected[0] <= row["period_start"].timestamp() <= expected[-1])
        assert ran == expected, f"{name}: ran for {ran}, expected {expected}\n{output}"
        outcomes = {row["outcome"] for row in rows if row["job"] == name
                    and row["period_start"].timestamp() in expected}
        assert outcomes == {"done"}, output
    # The evidence was anchored once, by one of the three, and not again while nothing changed.
    checkpoints = Path(settings.evidence_checkpoint_path).read_text().splitlines()
    assert [json.loads(line)["seq"] for line in checkpoints] == [1], output
