"""`make bench`: every figure of the performance issue in one run, on one scratch PostgreSQL
database, as one table followed by key=value lines for scripts.

    .venv/bin/python -m bench.suite [--quick] [--results bench/RESULTS.md]

In order: the raw INSERT ceiling; 10k seeded orders; webhook ingest (8 senders) in process;
purchase round trips and the SQL they cost; the outbox relay with 2 worker processes; ingest
with 1 and 2 server processes; the purchase on SQLite, by turns with PostgreSQL's; then up
to 1M seeded orders and the round trip and ingest again. `--quick` shrinks every workload
(a smoke run, not a result).
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from adapters.persistence.engine import engine_for, migrate
from bench import _harness as harness
from bench import outbox_relay, seeding, server_processes
from bench.ceiling import insert_ceiling
from bench.order_payment_roundtrip import FAST_SANDBOX, sign_in, timed_round_trips
from bench.purchase_cost import Cost, counted_purchases
from bench.sql_count import tag_requests
from bench.suite_report import Report
from bench.webhook_ingest import measure

SENDERS = 8
# Periodic jobs (sweep, reconciliation, retention, checkpoints) pushed an hour away, so
# they do not land in the counted purchases by chance.
QUIET_PERIODIC: dict[str, Any] = dict.fromkeys(
    ("sweep_interval_seconds", "reconcile_interval_seconds", "retention_interval_seconds",
     "evidence_checkpoint_interval_seconds"), 3600)


@dataclass(frozen=True)
class Sizes:
    """How much each step does; the defaults are `make bench`'s."""

    ingest: tuple[int, int] = (1500, 200)  # callbacks timed, after this many not timed
    trips: tuple[int, int] = (40, 3)  # purchase round trips timed, after this many not timed
    counted: int = 5  # purchases whose SQL is counted
    outbox: int = 5000  # messages the relay drains
    sqlite_trips: int = 20
    process_ingest: int = 1500  # callbacks per server-process run
    orders: tuple[int, int] = (10_000, 1_000_000)  # seeded first, then grown to
    seed_seconds: float = 100.0  # growing stops there, however far it got


QUICK = Sizes(ingest=(200, 50), trips=(5, 1), counted=2, outbox=500, sqlite_trips=3,
              process_ingest=200, orders=(1000, 20_000), seed_seconds=10)


async def in_process_ingest(url: str, requests: int, warmup: int) -> dict[str, Any]:
    """bench.webhook_ingest's measurement, 8 senders, no worker."""
    args = argparse.Namespace(requests=requests, concurrency=SENDERS, warmup=warmup,
                              timeout=60.0)
    async with harness.running_app(sqlite=False, start_worker=False, database_url=url) as app:
        return await measure(args, app, uuid.uuid4().hex[:8])


async def purchases(url: str | None, trips: int, warmup: int,
                    counted: int = 0) -> tuple[list[float], Cost | None]:
    """Timed purchase round trips (on SQLite when `url` is None), then `counted` more
    whose SQL is counted until they settle."""
    async with harness.running_app(sqlite=url is None, start_worker=True, database_url=url,
                                   prepare=tag_requests, **FAST_SANDBOX,
                                   **QUIET_PERIODIC) as app:
        # Evidence the ingest steps left unsealed (their servers ran no worker) would be
        # sealed during the purchases: seal it first, so every purchase step starts alike.
        await app.container.evidence().seal()
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as session:
            auth = await sign_in(session, app.base_url)
            timed = await timed_round_trips(session, app.base_url, auth, iterations=trips,
                                            warmup=warmup)
            cost = None
            if counted and url is not None:
                cost = await counted_purchases(session, app.base_url, auth, url,
                                               purchases=counted)
    return timed.trips, cost


async def sqlite_and_postgres(url: str, trips: int, warmup: int, turns: int = 2) -> tuple[
        list[float], list[float], int]:
    """Purchase round trips on SQLite and on PostgreSQL, `trips` at a time by turns, so
    that the machine's drifting speed weighs on both alike."""
    sqlite: list[float] = []
    postgres: list[float] = []
    for _ in range(turns):
        postgres += (await purchases(url, trips, warmup))[0]
        sqlite += (await purchases(None, trips, warmup))[0]
    return sqlite, postgres, turns


async def relay(url: str, scratch: Path, count: int) -> tuple[float, int, str]:
    """Outbox messages done per second, how many were left, and how they were run."""
    redis_url = outbox_relay.free_redis_database()
    if redis_url is None:
        async with harness.running_app(sqlite=False, start_worker=False,
                                       database_url=url) as app:
            dispatch = outbox_relay.in_process_dispatcher(app.container.outbox())
            rate, left = await outbox_relay.relay_rate(url, dispatch, count=count,
                                                       warmup=200, seconds=120)
        return rate, left, "Redis unreachable: the relay in this process, 2 batches at a time"
    with outbox_relay.worker_processes(url, redis_url, scratch, 2):
        rate, left = await outbox_relay.relay_rate(
            url, outbox_relay.redis_dispatcher(redis_url), count=count, warmup=200,
            seconds=120)
    return rate, left, f"2 `mall worker` processes on Redis ({redis_url.rsplit('/', 1)[1]})"


async def processes(url: str, scratch: Path, requests: int, rounds: int = 3) -> tuple[
        list[server_processes.Ingest], list[server_processes.Ingest], bool]:
    """Ingest with 1 and with 2 server processes, alternating for `rounds` rounds (the
    machine's other load drifts); whether the 2 shared one port."""
    shared = server_processes.serve_has_workers_flag()
    results: dict[int, list[server_processes.Ingest]] = {1: [], 2: []}
    for count in (1, 2) * rounds:
        with server_processes.serving(url, scratch, count, shared and count > 1) as servers:
            await servers.ready()
            results[count].append(await server_processes.ingest(
                servers.urls, requests=requests, concurrency=SENDERS, warmup=400))
    return results[1], results[2], shared


async def run(sizes: Sizes, report: Report) -> None:
    async with harness.scratch_postgres() as url:
        with tempfile.TemporaryDirectory(prefix="mall_bench_suite_") as folder:
            scratch = Path(folder)
            await migrate(engine_for(url, ""))
            report.ceiling(await insert_ceiling(url, connections=SENDERS))
            seeded = await seeding.grow(url, 0, sizes.orders[0])
            report.ingest(await in_process_ingest(url, *sizes.ingest), seeded)
            trips, cost = await purchases(url, *sizes.trips, counted=sizes.counted)
            report.purchase("PostgreSQL", trips, seeded)
            if cost is not None:
                report.cost(cost)
            report.relay(*await relay(url, scratch, sizes.outbox), sizes.outbox)
            report.processes(*await processes(url, scratch, sizes.process_ingest))
            report.sqlite(*await sqlite_and_postgres(url, sizes.sqlite_trips, sizes.trips[1]))
            began = time.monotonic()
            grown = await seeding.grow(url, seeded, sizes.orders[1], seconds=sizes.seed_seconds)
            report.seeded(seeded, grown, sizes.orders[1], time.monotonic() - began)
            # The machine's speed now, beside the first: what drifted that is not the tables.
            report.ceiling(await insert_ceiling(url, connections=SENDERS), again=True)
            # The same workloads again: only the tables' size differs.
            report.ingest(await in_process_ingest(url, *sizes.ingest), grown)
            trips, _ = await purchases(url, *sizes.trips)
            report.purchase("PostgreSQL", trips, grown)


def main() -> None:
    parser = harness.benchmark_parser(__doc__)
    parser.add_argument("--quick", action="store_true",
                        help="tiny workloads: checks the suite runs, measures nothing")
    parser.add_argument("--results", type=Path, default=None,
                        help="also write the table to this file (Markdown)")
    parser.add_argument("--log-level", default="ERROR")
    args = parser.parse_args()
    code = harness.code_version()
    tally = harness.configure_logging(args.log_level)
    report = Report(code, harness.command_line())
    began = time.monotonic()
    try:
        asyncio.run(run(QUICK if args.quick else Sizes(), report))
    finally:
        report.finish(time.monotonic() - began, dict(tally.counts), harness.code_version())
        text = report.render()
        print(text)
        if args.results is not None:
            args.results.write_text(report.markdown())


if __name__ == "__main__":
    main()
