"""Outbox relay throughput: seed cheap outbox messages (TrackEvent to the log analytics
sink) straight into the table, hand their ids to the workers as the app does (batches of
ids per broker message), and time until every one is done.

With Redis: two `python -m entrypoints.cli worker` processes on a Redis database of their
own. Without it: the relay in this process, two batches at a time."""

from __future__ import annotations

import asyncio
import json
import os
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import asyncpg
import redis

from adapters.queue import OUTBOX_BATCH, DramatiqTaskQueue, make_broker
from bench._children import cli_environment, running
from domain.commands import TrackEvent, serialize

REDIS_BASE = os.environ.get("MALL_BENCH_REDIS_URL", "redis://127.0.0.1:6379")
REDIS_DATABASES = (12, 11, 10, 9)  # the tests use 15; an empty one of these is taken


def free_redis_database() -> str | None:
    """A Redis URL on a database nobody uses (empty), or None without Redis."""
    for number in REDIS_DATABASES:
        url = f"{REDIS_BASE}/{number}"
        try:
            if redis.Redis.from_url(url, socket_timeout=2).dbsize() == 0:
                return url
        except redis.RedisError:
            return None
    return None


async def seed(url: str, count: int) -> list[str]:
    """`count` pending TrackEvent messages in one INSERT ... SELECT; their ids."""
    prefix = f"obx_bench_{uuid.uuid4().hex[:8]}_"
    topic, fields = serialize(TrackEvent("cus_bench", "Bench Event", {"step": 1}))
    connection = await asyncpg.connect(url)
    try:
        await connection.execute(
            "INSERT INTO outbox_message (id, topic, payload, status, attempts, created_at, "
            "available_at) SELECT $1 || g, $2, $3::json, 'pending', 0, now(), now() "
            "FROM generate_series(1, $4) AS g", prefix, topic, json.dumps(fields), count)
    finally:
        await connection.close()
    return [f"{prefix}{i}" for i in range(1, count + 1)]


async def wait_done(url: str, ids: list[str], seconds: float) -> int:
    """Wait until every message is done (bounded); how many are."""
    connection = await asyncpg.connect(url)
    deadline = time.monotonic() + seconds
    try:
        while True:
            done = await connection.fetchval(
                "SELECT count(*) FROM outbox_message WHERE id = ANY($1) AND status = 'done'",
                ids)
            if done == len(ids) or time.monotonic() > deadline:
                return int(done)
            await asyncio.sleep(0.01)  # a batch of 100 takes about as long
    finally:
        await connection.close()


async def relay_rate(url: str, dispatch: Callable[[list[str]], Awaitable[None]], *,
                     count: int, warmup: int, seconds: float) -> tuple[float, int]:
    """(messages done per second, messages not done in time) for `count` messages,
    after `warmup` more that are not timed (the workers' first connections)."""
    if warmup:
        warm = await seed(url, warmup)
        await dispatch(warm)
        await wait_done(url, warm, seconds)
    ids = await seed(url, count)
    began = time.perf_counter()
    await dispatch(ids)
    done = await wait_done(url, ids, seconds)
    return done / (time.perf_counter() - began), count - done


def redis_dispatcher(redis_url: str) -> Callable[[list[str]], Awaitable[None]]:
    queue = DramatiqTaskQueue(make_broker(redis_url, heartbeat_timeout_ms=60_000))

    async def dispatch(ids: list[str]) -> None:
        queue.dispatch_outbox(ids)

    return dispatch


def in_process_dispatcher(relay: object, parallel: int = 2
                          ) -> Callable[[list[str]], Awaitable[None]]:
    """Run the batches on this process's relay, `parallel` at a time, in the background
    (as a worker would, while the caller waits for the table to say done)."""
    run_batch = relay.run_batch  # type: ignore[attr-defined]
    running: set[asyncio.Task[None]] = set()

    async def all_batches(ids: list[str]) -> None:
        gate = asyncio.Semaphore(parallel)

        async def one(batch: list[str]) -> None:
            async with gate:
                await run_batch(batch)

        await asyncio.gather(*(one(ids[i:i + OUTBOX_BATCH])
                               for i in range(0, len(ids), OUTBOX_BATCH)))

    async def dispatch(ids: list[str]) -> None:
        task = asyncio.get_running_loop().create_task(all_batches(ids))
        running.add(task)
        task.add_done_callback(running.discard)

    return dispatch


@contextmanager
def worker_processes(database_url: str, redis_url: str, scratch: Path,
                     count: int) -> Iterator[None]:
    """`count` worker processes; stopped afterwards, and the Redis database emptied."""
    env = cli_environment(database_url, scratch, redis_url=redis_url)
    try:
        with running([(["worker"], env, scratch / "worker.log")] * count):
            yield
    finally:
        redis.Redis.from_url(redis_url).flushdb()
