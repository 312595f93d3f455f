"""Shared fixtures: a fresh database on each engine, containers, a running app.

PostgreSQL and Redis tests run whenever the services answer; with CI=true (or
MALL_REQUIRE_SERVICES=1) an unreachable service fails the run instead of skipping.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import sqlite3
import tempfile
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import closing
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest

import bootstrap
from adapters.persistence.engine import migrate
from adapters.persistence.tables import ALL_TABLES
from bench._harness import admin_sql

POSTGRES_URL = os.environ.get("MALL_TEST_POSTGRES_URL",
                              "postgresql://postgres@127.0.0.1:5432/postgres")
# Each pytest-xdist worker has a Redis database of its own (gw0: 15, gw1: 14, ...): the
# tests that empty it or run worker processes on it never meet another worker's. (The
# xdist_group below does not hold them together with pytest 9, whose node ids xdist 3.8
# can no longer tag with the group.)
_XDIST_WORKER = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw") or 0)
REDIS_URL = os.environ.get("MALL_TEST_REDIS_URL",
                           f"redis://127.0.0.1:6379/{15 - _XDIST_WORKER}")
REQUIRE_SERVICES = (os.environ.get("CI") == "true"
                    or os.environ.get("MALL_REQUIRE_SERVICES") == "1")

FAST = {
    "sandbox_stall_seconds": 2.0,
    "sandbox_deposit_delay_seconds": 0.3,
    "sandbox_webhook_delay_seconds": 0.05,
    "sandbox_tracking_step_seconds": 0.15,
    "payment_sync_wait_seconds": 1.0,
    "operation_slow_after_seconds": 0.5,
    "operation_update_every_seconds": 0.3,
    "sweep_interval_seconds": 0.5,
    "sweep_older_than_seconds": 2.0,
    "outbox_lease_seconds": 10.0,
    "http_timeout_seconds": 5.0,
    "http_retries": 1,
    "log_level": "INFO",
    "allow_sandbox": True,
    "validate_responses": True,
}


def _reachable(url: str, default_port: int) -> bool:
    parsed = urlparse(url)
    try:
        with socket.create_connection((parsed.hostname or "127.0.0.1",
                                       parsed.port or default_port), timeout=1):
            return True
    except OSError:
        return False


def need(service: str, url: str, port: int) -> None:
    if _reachable(url, port):
        return
    if REQUIRE_SERVICES:
        pytest.fail(f"{service} at {url} is unreachable, and CI requires it")
    pytest.skip(f"{service} is not running here ({url})")


@pytest.fixture(scope="session")
def postgres_database() -> Any:
    """One scratch database for the session, dropped at the end."""
    need("PostgreSQL", POSTGRES_URL, 5432)
    name = f"mall_test_{uuid.uuid4().hex[:10]}"
    asyncio.run(admin_sql(POSTGRES_URL, f'CREATE DATABASE "{name}"'))
    parsed = urlparse(POSTGRES_URL)
    yield parsed._replace(path=f"/{name}").geturl()
    asyncio.run(admin_sql(POSTGRES_URL, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(params=["sqlite", "postgres"])
def engine_name(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def settings_factory(
    engine_name: str, tmp_path: Path, request: pytest.FixtureRequest
) -> Callable[..., bootstrap.Settings]:
    database_url = ""
    if engine_name == "postgres":
        database_url = request.getfixturevalue("postgres_database")

    def make(**overrides: Any) -> bootstrap.Settings:
        values: dict[str, Any] = {
            **FAST, "database_url": database_url, "redis_url": "",
            "sqlite_path": str(tmp_path / "mall.sqlite"), "keys_file": str(tmp_path / "keys.json"),
            "evidence_checkpoint_file": str(tmp_path / "evidence-checkpoints.jsonl"),
        }
        values.update(overrides)
        return bootstrap.load_keys(bootstrap.Settings(**values))

    return make


_MIGRATED_SQLITE: list[Path] = []  # a database file migrated once, copied for each test


async def reset_database(container: bootstrap.Container) -> None:
    """Migrate, then empty every table (PostgreSQL's database is shared by the session). A
    new SQLite database starts as a copy of one migrated before (migrating costs ~0.5 s)."""
    engine = container.engine()
    path = Path(container.config.sqlite_path())
    fresh = not container.config.database_url() and not path.exists()
    if fresh and _MIGRATED_SQLITE:
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(_MIGRATED_SQLITE[0], path)
    await migrate(engine)
    if fresh and not _MIGRATED_SQLITE:
        template = Path(tempfile.mkdtemp(prefix="mall-migrated-")) / "mall.sqlite"
        # SQLite's backup reads through the write-ahead log, which a file copy would miss.
        with closing(sqlite3.connect(path)) as source, closing(sqlite3.connect(template)) as to:
            source.backup(to)
        _MIGRATED_SQLITE.append(template)
    if container.config.database_url():
        names = ", ".join(table._meta.tablename for table in ALL_TABLES)
        await engine.run_ddl(f"TRUNCATE {names}")
        await migrate(engine)


@pytest.fixture
async def container(
    settings_factory: Callable[..., bootstrap.Settings],
) -> AsyncIterator[bootstrap.Container]:
    c = bootstrap.build(settings_factory())
    await reset_database(c)
    yield c
    await c.http().close()


@pytest.fixture(autouse=True)
async def _no_task_outlives_its_test() -> AsyncIterator[None]:
    """Cancel what a test left running on its loop (a sandbox callback on its way, say) and
    let it clean up, as aiohttp's run_app does at shutdown; a task abandoned on a closed loop
    would keep its database connection, and its thread, open."""
    yield
    current = asyncio.current_task()
    leftovers = [task for task in asyncio.all_tasks() if task is not current]
    for task in leftovers:
        task.cancel()
    await asyncio.gather(*leftovers, return_exceptions=True)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Last resort: stop any aiosqlite worker thread still waiting, so the run can exit."""
    import threading

    import aiosqlite.core

    for thread in threading.enumerate():
        target = getattr(thread, "_target", None)
        if getattr(target, "__name__", "") == "_connection_worker_thread":
            queue = thread._args[0]  # type: ignore[attr-defined]
            queue.put_nowait((None, lambda: aiosqlite.core._STOP_RUNNING_SENTINEL))
    # A Dramatiq event-loop thread still running means a test left a worker started (two
    # in-process workers at once share Dramatiq's one loop slot): say so, and stop it.
    from dramatiq.asyncio import EventLoopThread

    for thread in threading.enumerate():
        if isinstance(thread, EventLoopThread) and thread.loop.is_running():
            print(f"\nwarning: a Dramatiq event loop ({thread.name}) was left running")
            thread.loop.call_soon_threadsafe(thread.loop.stop)


# Tests that share the Redis database of REDIS_URL (each empties it first) run one after the
# other on one xdist worker; every other test has databases, ports and files of its own.
SHARED_REDIS = frozenset({"test_worker_crash", "test_periodic_jobs",
                          "test_campaign_worker_crash", "test_multiprocess",
                          "test_throttling_redis"})


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        module = getattr(item, "module", None)
        name = module.__name__.rsplit(".", 1)[-1] if module is not None else ""
        if item.get_closest_marker("redis") or name in SHARED_REDIS:
            item.add_marker(pytest.mark.xdist_group("redis"))
