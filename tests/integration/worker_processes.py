"""Real Dramatiq worker processes on the test Redis, for the tests that start, kill and
restart them."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import redis

import bootstrap
from tests.conftest import REDIS_URL, need, reset_database


async def on_redis(settings_factory: Any,
                   **overrides: Any) -> tuple[bootstrap.Settings, bootstrap.Container]:
    """Settings on the test Redis, emptied first (skip without it), and a container on a
    freshly reset database."""
    need("Redis", REDIS_URL, 6379)
    redis.Redis.from_url(REDIS_URL).flushdb()
    settings = settings_factory(redis_url=REDIS_URL, **overrides)
    container = bootstrap.build(settings)
    await reset_database(container)
    return settings, container


def start_worker(settings: bootstrap.Settings, log: Path,
                 **overrides: Any) -> subprocess.Popen[bytes]:
    """`entrypoints.cli worker` on the test's database, keys and Redis, with `overrides` as
    MALL_* variables; its output appended to `log`."""
    return start_cli(settings, log, ["worker"], **overrides)


def start_cli(settings: bootstrap.Settings, log: Path, command: list[str],
              **overrides: Any) -> subprocess.Popen[bytes]:
    """`entrypoints.cli <command>` (worker, serve, ...) as `start_worker` starts it."""
    env = {**os.environ, "MALL_LOG_LEVEL": "INFO", "MALL_REDIS_URL": settings.redis_url,
           "MALL_DATABASE_URL": settings.database_url, "MALL_SQLITE_PATH": settings.sqlite_path,
           "MALL_KEYS_FILE": settings.keys_file, "MALL_ALLOW_SANDBOX": "true",
           "MALL_EVIDENCE_CHECKPOINT_FILE": settings.evidence_checkpoint_path}
    env.update({f"MALL_{k.upper()}": str(v) for k, v in overrides.items()})
    return subprocess.Popen([sys.executable, "-m", "entrypoints.cli", *command], env=env,
                            stdout=log.open("ab"), stderr=subprocess.STDOUT)


def stop_workers(*workers: subprocess.Popen[bytes]) -> None:
    """Ask every worker to stop (SIGTERM, all at once); kill one still running after 15 s."""
    for worker in workers:
        worker.send_signal(signal.SIGTERM)
    for worker in workers:
        try:
            worker.wait(timeout=15)
        except subprocess.TimeoutExpired:
            worker.kill()
