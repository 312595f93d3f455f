"""The raw ceiling: how many one-row INSERT transactions PostgreSQL commits per second from
plain asyncpg connections, with nothing of the app in the way (what pgbench's simple
insert would measure), on a scratch table of the benchmark's database."""

from __future__ import annotations

import asyncio
import time

import asyncpg

CREATE = ("CREATE TABLE bench_ceiling (id bigserial PRIMARY KEY, "
          "at timestamptz NOT NULL DEFAULT now(), note text)")
INSERT = "INSERT INTO bench_ceiling (note) VALUES ($1)"
DROP = "DROP TABLE IF EXISTS bench_ceiling"


async def insert_ceiling(url: str, *, connections: int = 8, seconds: float = 3.0,
                         warmup: float = 0.5) -> float:
    """Committed one-row INSERTs per second over `seconds`, `connections` at a time (each
    INSERT is its own transaction)."""
    pool = [await asyncpg.connect(url) for _ in range(connections)]
    try:
        await pool[0].execute(CREATE)
        await _hammer(pool, warmup)
        return await _hammer(pool, seconds) / seconds
    finally:
        await pool[0].execute(DROP)
        await asyncio.gather(*(connection.close() for connection in pool))


async def _hammer(pool: list[asyncpg.Connection], seconds: float) -> int:
    done = [0]
    until = time.perf_counter() + seconds

    async def insert_until_time(connection: asyncpg.Connection) -> None:
        while time.perf_counter() < until:
            await connection.execute(INSERT, "ceiling")
            done[0] += 1

    await asyncio.gather(*(insert_until_time(connection) for connection in pool))
    return done[0]
