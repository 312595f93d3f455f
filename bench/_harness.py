"""What the benchmarks share: a scratch database, the app served in-process on a free port,
percentiles, and the command line that was run."""

from __future__ import annotations

import argparse
import asyncio
import inspect
import json
import logging
import os
import re
import shlex
import socket
import subprocess
import sys
import tempfile
import time
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


async def admin_sql(url: str, sql: str) -> None:
    """Run one statement on a connection of its own (CREATE and DROP DATABASE cannot run
    inside a transaction). The test suite makes its scratch database with it too."""
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@asynccontextmanager
async def scratch_postgres() -> AsyncIterator[str]:
    """CREATE DATABASE mall_bench_<random>; yield its URL; drop it (even on failure)."""
    name = f"mall_bench_{uuid.uuid4().hex[:10]}"
    await admin_sql(ADMIN_URL, f'CREATE DATABASE "{name}"')
    try:
        yield urlparse(ADMIN_URL)._replace(path=f"/{name}").geturl()
    finally:
        await admin_sql(ADMIN_URL, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


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
                      database_url: str | None = None,
                      prepare: Callable[[web.Application], None] | None = None,
                      **overrides: Any) -> AsyncIterator[Running]:
    """A fresh database (PostgreSQL, or SQLite in a temporary directory) and the app on
    127.0.0.1:<free port>, torn down afterwards. Keys live in the temporary directory too,
    so nothing under var/ is touched. `pool_size` sets `database_pool_size` (None: the
    app's default). `database_url` reuses a PostgreSQL database the caller owns instead
    of a fresh one; `prepare` may add middlewares to the app before it starts."""
    if pool_size is not None:
        if "database_pool_size" not in bootstrap.Settings.model_fields:
            raise SystemExit("--pool-size: this version of the app has no database_pool_size")
        overrides["database_pool_size"] = pool_size
    with tempfile.TemporaryDirectory(prefix="mall_bench_") as scratch:
        async with _database(sqlite, Path(scratch), database_url) as url:
            port = free_port()
            settings = bootstrap.Settings(
                database_url=url, redis_url="", embedded_worker=start_worker,
                sqlite_path=str(Path(scratch) / "mall.sqlite"),
                keys_file=str(Path(scratch) / "keys.json"),
                host="127.0.0.1", port=port, public_base_url=f"http://127.0.0.1:{port}",
                allow_sandbox=True,  # the benchmarks drive the sandbox providers
                **overrides,
            )
            container = bootstrap.build(settings)
            app = create_app(container, start_worker=start_worker)
            if prepare is not None:
                prepare(app)
            runner = web.AppRunner(app, access_log=None)
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
async def _database(sqlite: bool, scratch: Path, given: str | None) -> AsyncIterator[str]:
    if sqlite or given:
        yield "" if sqlite else str(given)
        return
    async with scratch_postgres() as url:
        yield url


def count_password_checks(container: bootstrap.Container) -> list[int]:
    """Count the argon2 checks the app runs from now on, in the list's one item (one hasher
    per container; code from before the checks moved off the event loop has a plain
    function). The sign-in throttling tests count with it too."""
    hasher = container.hasher()
    verify = hasher.verify
    checks = [0]

    async def counted(stored: str, password: str) -> bool:
        checks[0] += 1
        return bool(await verify(stored, password))

    def counted_on_the_loop(stored: str, password: str) -> bool:
        checks[0] += 1
        return bool(verify(stored, password))

    hasher.verify = (counted if inspect.iscoroutinefunction(verify)  # type: ignore[method-assign]
                     else counted_on_the_loop)
    return checks


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


def quarter_medians(trips: Sequence[float]) -> dict[str, float]:
    """The median round trip of the first and of the last quarter of the run, in ms: does
    it slow down as the tables grow?"""
    quarter = max(1, len(trips) // 4)
    return {
        "round_trip_p50_first_quarter_ms": round(percentile(trips[:quarter], 50) * 1000, 2),
        "round_trip_p50_last_quarter_ms": round(percentile(trips[-quarter:], 50) * 1000, 2),
    }


def quarter_medians_line(result: dict[str, Any]) -> str:
    return (f"  round-trip p50, first quarter {result['round_trip_p50_first_quarter_ms']:.2f} "
            f"ms, last quarter {result['round_trip_p50_last_quarter_ms']:.2f} ms")


def latency_row(name: str, s: dict[str, float], *, name_width: int, digits: int) -> str:
    """One line of a report: a name, then p50, p90, p99, max and mean in ms."""
    return (f"  {name:<{name_width}} p50 {s['p50_ms']:{digits}.2f}  "
            f"p90 {s['p90_ms']:{digits}.2f}  p99 {s['p99_ms']:{digits}.2f}  "
            f"max {s['max_ms']:{digits}.2f}  mean {s['mean_ms']:{digits}.2f}  ms")


def result_header(benchmark: str, app: Running) -> dict[str, Any]:
    """The fields every result starts with: which benchmark, when, and on what database."""
    return {"benchmark": benchmark, "date": time.strftime("%Y-%m-%d %H:%M:%S %z"),
            "engine": app.engine, "database": app.database, "pool_size": app.pool_size}


def error_lines(counts: dict[str, int]) -> list[str]:
    if not counts:
        return ["  errors logged       none"]
    lines = [f"  errors logged       {sum(counts.values())} (failed actor runs are retried):"]
    lines += [f"    {n:>5} x {what}" for what, n in sorted(counts.items(), key=lambda i: -i[1])]
    return lines


def report_footer(result: dict[str, Any], label_width: int) -> list[str]:
    """The lines every report ends with (run_and_report adds them): the errors the app
    logged, the commit and date, and the command line."""
    return [
        *error_lines(result.get("errors_logged", {})),
        f"  {'code':<{label_width}}{result['code']}   date {result['date']}",
        f"  {'command':<{label_width}}{result['command']}",
    ]


def emit(result: dict[str, Any], lines: list[str], as_json: bool) -> None:
    if as_json:
        print(json.dumps(result, indent=2))
    else:
        print("\n".join(lines))


def run_and_report(args: argparse.Namespace,
            run: Callable[[argparse.Namespace], Awaitable[dict[str, Any]]],
            report: Callable[[dict[str, Any]], list[str]], label_width: int) -> dict[str, Any]:
    """Run a benchmark and print its result, stamped with the commit its code came from and
    the errors the app logged meanwhile (the report's footer, its labels `label_width`
    wide)."""
    code = code_version()  # at start-up: the commit whose code this run imported
    tally = configure_logging(args.log_level, show_actor_tracebacks=args.show_actor_tracebacks)
    result = asyncio.run(run(args))
    moved = code_version()
    result["code"] = code if moved == code else f"{code} (HEAD moved to {moved} during the run)"
    result["command"] = command_line()
    result["errors_logged"] = dict(tally.counts)
    emit(result, report(result) + report_footer(result, label_width), args.json)
    return result


def benchmark_parser(doc: str | None) -> argparse.ArgumentParser:
    """A benchmark's command line, described by the first paragraph of its docstring."""
    return argparse.ArgumentParser(description=(doc or "").split("\n\n")[0])


def add_count(parser: argparse.ArgumentParser, *flags: str, default: int, what: str) -> None:
    """A whole-number flag; its help says what it counts and its default."""
    parser.add_argument(*flags, type=int, default=default, help=f"{what} (default {default})")


def parse_and_run(parser: argparse.ArgumentParser,
                  run: Callable[[argparse.Namespace], Awaitable[dict[str, Any]]],
                  report: Callable[[dict[str, Any]], list[str]], *, label_width: int,
                  valid: Callable[[argparse.Namespace], bool], complaint: str) -> dict[str, Any]:
    """Add the common flags, parse the command line (refused with `complaint` unless
    `valid`), then run the benchmark and print its result (see run_and_report)."""
    add_common_arguments(parser)
    args = parser.parse_args()
    if not valid(args):
        parser.error(complaint)
    return run_and_report(args, run, report, label_width)


def add_load_flags(parser: argparse.ArgumentParser, *, requests: tuple[int, str],
                   concurrency: tuple[int, str], warmup: tuple[int, str]) -> None:
    """-n/--requests, -c/--concurrency and --warmup, each given its default and what it
    counts."""
    add_count(parser, "-n", "--requests", default=requests[0], what=requests[1])
    add_count(parser, "-c", "--concurrency", default=concurrency[0], what=concurrency[1])
    add_count(parser, "--warmup", default=warmup[0], what=warmup[1])


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
