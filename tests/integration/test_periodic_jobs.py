"""Periodic jobs run once per period across the cluster: three worker processes on one
database and one Redis run each job once per period, not three times."""

from __future__ import annotations

import asyncio
import json
import math
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import redis

import bootstrap
from adapters.clock import SystemClock
from adapters.persistence.periodic import PiccoloPeriodicRuns
from adapters.persistence.tables import PeriodicRun
from domain.evidence import EvidenceDraft
from entrypoints import actors
from tests.conftest import REDIS_URL, need, reset_database
from tests.helpers import eventually

PERIODS = {"sweep_interval_seconds": 1.0, "reconcile_interval_seconds": 2.0,
           "retention_interval_seconds": 3.0, "evidence_checkpoint_interval_seconds": 2.0}


async def test_one_claim_per_period_among_concurrent_claimants(settings_factory: Any) -> None:
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
    assert await runs.claim("sweep", start + timedelta(days=1, seconds=10))
    assert await PeriodicRun.count().where(PeriodicRun.job == "sweep") == 1
    assert await PeriodicRun.count().where(PeriodicRun.job == "reconcile") == 1


def _worker(settings: bootstrap.Settings, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "MALL_LOG_LEVEL": "INFO", "MALL_REDIS_URL": settings.redis_url,
           "MALL_DATABASE_URL": settings.database_url, "MALL_SQLITE_PATH": settings.sqlite_path,
           "MALL_KEYS_FILE": settings.keys_file, "MALL_ALLOW_SANDBOX": "true",
           "MALL_EVIDENCE_CHECKPOINT_FILE": settings.evidence_checkpoint_path,
           "MALL_WORKER_THREADS": "2"}
    env.update({f"MALL_{k.upper()}": str(v) for k, v in PERIODS.items()})
    return subprocess.Popen([sys.executable, "-m", "entrypoints.cli", "worker"], env=env,
                            stdout=log.open("ab"), stderr=subprocess.STDOUT)


@pytest.mark.redis
@pytest.mark.timeout(120)
async def test_three_workers_run_each_periodic_job_once_per_period(
    settings_factory: Any, tmp_path: Path,
) -> None:
    need("Redis", REDIS_URL, 6379)
    redis.Redis.from_url(REDIS_URL).flushdb()
    settings = settings_factory(redis_url=REDIS_URL, **PERIODS)
    container = bootstrap.build(settings)
    await reset_database(container)
    await container.ledger().record(EvidenceDraft("test", "note", "order:o1", {}, {"n": 1}))

    logs = [tmp_path / f"worker-{n}.log" for n in range(3)]
    workers = [_worker(settings, log) for log in logs]
    try:
        async def all_running() -> bool:
            return all(log.exists() and b"worker running" in log.read_bytes() for log in logs)

        await eventually(all_running, timeout=60, what="three workers to start")
        first = time.time()
        await asyncio.sleep(10)
        last = time.time()
    finally:
        for worker in workers:
            worker.send_signal(signal.SIGTERM)
        for worker in workers:
            try:
                worker.wait(timeout=15)
            except subprocess.TimeoutExpired:
                worker.kill()
    output = "\n".join(log.read_text()[-2000:] for log in logs)

    rows = await PeriodicRun.select()
    holders = {row["holder"] for row in rows}
    assert len(holders) > 1, f"one process ran every job; were three running?\n{output}"
    for name, period in actors.periods(container).items():
        # Every period that began once all three were running, and had time to finish.
        expected = [index * period for index in range(math.ceil(first / period),
                                                      math.floor((last - 1.0) / period))]
        assert len(expected) >= 2
        ran = sorted(row["period_start"].timestamp() for row in rows if row["job"] == name
                     and expected[0] <= row["period_start"].timestamp() <= expected[-1])
        assert ran == expected, f"{name}: ran for {ran}, expected {expected}\n{output}"
        outcomes = {row["outcome"] for row in rows if row["job"] == name
                    and row["period_start"].timestamp() in expected}
        assert outcomes == {"done"}, output
    # The evidence was anchored once, by one of the three, and not again while nothing changed.
    checkpoints = Path(settings.evidence_checkpoint_path).read_text().splitlines()
    assert [json.loads(line)["seq"] for line in checkpoints] == [1], output
