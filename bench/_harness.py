"""What the benchmarks share: a scratch database, the app served in-process on a free port,
percentiles, and the command line that was run."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import re
import shlex
import socket
import subprocess
import sys
import tempfile
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import asyncpg
from aiohttp import web

import bootstrap
from entrypoints.http.app import create_app

ADMIN_URL = os.environ.get("MALL_BENCH_POSTGRES_URL",
                           "postgresql://postgres@127.0.0.1:5432/postgres")


def command_line() -> str:
    """The command exactly as it was typed (interpreter, -m module and flags)."""
    return shlex.join(sys.orig_argv)


def code_version() -> str:
    """The commit the benchmark ran on, with "+dirty" when tracked files outside bench/
    differ from it (changes to the benchmarks themselves don't change what is measured)."""
    root = Path(__file__).resolve().parent.parent
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root, check=True,
                              capture_output=True, text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--",
                                ".", ":(exclude)bench"],
                               cwd=root, check=True, capture_output=True, text=True,
                               timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return head + ("+dirty" if dirty else "")


def free_port(host: str = "127.0.0.1") -> int:
    """A port nobody listens on right now (the app binds it a moment later)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


class ErrorTally(logging.Handler):
    """Counts ERROR records (actor failures that Dramatiq will retry, mostly) by logger,
    exception type and message, with ids masked so that alike failures add up."""

    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self.counts: Counter[str] = Counter()

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            what = f"{type(exc).__name__}: {exc}"
        else:
            what = record.getMessage()
        self.counts[f"{record.name}: {ID_LIKE.sub('<id>', what)[:160]}"] += 1


ID_LIKE = re.compile(r"\b(?=\w*\d)\w{8,}\b")  # ids: long words with a digit in them


def configure_logging(level: str, *, show_actor_tracebacks: bool = False) -> ErrorTally:
    """Log at `level` to stderr; count ERROR records. Actor failures (Dramatiq logs a full
    traceback for each one it will retry) are only counted unless asked to show them."""
    logging.basicConfig(level=level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s %(message)s")
    if not show_actor_tracebacks:
        for handler in logging.getLogger().handlers:
            handler.addFilter(lambda record: not record.name.startswith("dramatiq.worker"))
    tally = ErrorTally()
    logging.getLogger().addHandler(tally)
    return tally


async def _admin(sql: str) -> None:
    conn = await asyncpg.connect(ADMIN_URL)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@asynccontextmanager
async def scratch_postgres() -> AsyncIterator[str]:
    """CREATE DATABASE mall_bench_<random>; yield its URL; drop it (even on failure)."""
    name = f"mall_bench_{uuid.uuid4().hex[:10]}"
    await _admin(f'CREATE DATABASE "{name}"')
    try:
        yield urlparse(ADMIN_URL)._replace(path=f"/{name}").geturl()
    finally:
        await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@dataclass
class Running:
    container: bootstrap.Container
    base_url: str
    engine: str  # "postgres" or "sqlite"
    worker: bool
    pool_size: int | None  # PostgreSQL connections per event loop; None: no such setting

    @property
    def database(self) -> str:
        if self.engine == "sqlite":
            return "sqlite"
        if self.pool_size is None:
            return "postgres (this code has no pool setting)"
        if self.pool_size <= 0:
            return "postgres (no pool: a new connection per transaction)"
        return f"postgres (pool of {self.pool_size} connections per event loop)"


@asynccontextmanager
async def running_app(*, sqlite: bool, start_worker: bool, pool_size: int | None = None,
                      **overrides: Any) -> AsyncIterator[Running]:
    """A fresh database (PostgreSQL, or SQLite in a temporary directory) and the app on
    127.0.0.1:<free port>, torn down afterwards. Keys live in the temporary directory too,
    so nothing under var/ is touched. `pool_size` sets `database_pool_size` (None: the
    app's default)."""
    if pool_size is not None:
        if "database_pool_size" not in bootstrap.Settings.model_fields:
            raise SystemExit("--pool-size: this version of the app has no database_pool_size")
        overrides["database_pool_size"] = pool_size
    with tempfile.TemporaryDirectory(prefix="mall_bench_") as scratch:
        async with _database(sqlite, Path(scratch)) as database_url:
            port = free_port()
            settings = bootstrap.Settings(
                database_url=database_url, redis_url="", embedded_worker=start_worker,
                sqlite_path=str(Path(scratch) / "mall.sqlite"),
                keys_file=str(Path(scratch) / "keys.json"),
                host="127.0.0.1", port=port, public_base_url=f"http://127.0.0.1:{port}",
                allow_sandbox=True,  # the benchmarks drive the sandbox providers
                **overrides,
            )
            container = bootstrap.build(settings)
            runner = web.AppRunner(create_app(container, start_worker=start_worker),
                                   access_log=None)
            await runner.setup()  # runs the lifecycle: migrations, then the worker if asked
            try:
                site = web.TCPSite(runner, "127.0.0.1", port)
                await site.start()
                yield Running(container, f"http://127.0.0.1:{port}",
                              "sqlite" if sqlite else "postgres", start_worker,
                              getattr(settings, "database_pool_size", None))
            finally:
                await runner.cleanup()


@asynccontextmanager
async def _database(sqlite: bool, scratch: Path) -> AsyncIterator[str]:
    if sqlite:
        yield ""
        return
    async with scratch_postgres() as url:
        yield url


def percentile(values: Sequence[float], p: float) -> float:
    """The p-th percentile (0..100) by linear interpolation between closest ranks."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * p / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def summary_ms(seconds: Sequence[float]) -> dict[str, float]:
    ms = [s * 1000 for s in seconds]
    return {
        "p50_ms": round(percentile(ms, 50), 2), "p90_ms": round(percentile(ms, 90), 2),
        "p99_ms": round(percentile(ms, 99), 2), "max_ms": round(max(ms), 2) if ms else 0.0,
        "mean_ms": round(sum(ms) / len(ms), 2) if ms else 0.0,
    }


def error_lines(counts: dict[str, int]) -> list[str]:
    if not counts:
        return ["  errors logged       none"]
    lines = [f"  errors logged       {sum(counts.values())} (failed actor runs are retried):"]
    lines += [f"    {n:>5} x {what}" for what, n in sorted(counts.items(), key=lambda i: -i[1])]
    return lines


def emit(result: dict[str, Any], lines: list[str], as_json: bool) -> None:
    if as_json:
        print(json.dumps(result, indent=2))
    else:
        print("\n".join(lines))


def run_and_report(args: argparse.Namespace,
            run: Callable[[argparse.Namespace], Awaitable[dict[str, Any]]],
            report: Callable[[dict[str, Any]], list[str]]) -> dict[str, Any]:
    """Run a benchmark and print its result, stamped with the commit its code came from and
    the errors the app logged meanwhile."""
    code = code_version()  # at start-up: the commit whose code this run imported
    tally = configure_logging(args.log_level, show_actor_tracebacks=args.show_actor_tracebacks)
    result = asyncio.run(run(args))
    moved = code_version()
    result["code"] = code if moved == code else f"{code} (HEAD moved to {moved} during the run)"
    result["errors_logged"] = dict(tally.counts)
    emit(result, report(result), args.json)
    return result


def add_common_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags every benchmark takes."""
    parser.add_argument("--sqlite", action="store_true",
                        help="use the embedded SQLite engine instead of PostgreSQL")
    parser.add_argument("--timeout", type=float, default=60.0,
                        help="per-request client timeout in seconds (default 60)")
    parser.add_argument("--pool-size", type=int, default=None,
                        help="PostgreSQL connections per event loop (database_pool_size); "
                             "0: a new connection per transaction (default: the app's)")
    parser.add_argument("--json", action="store_true", help="print machine-readable JSON")
    parser.add_argument("--log-level", default="WARNING")
    parser.add_argument("--show-actor-tracebacks", action="store_true",
                        help="print the traceback of every failed actor run (default: count)")
