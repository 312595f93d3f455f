"""Webhook ingest against real server processes (`python -m entrypoints.cli serve`) on the
benchmark's database: one process, then two. Two share one port through `serve --workers N`
when the command line has it; otherwise each listens on a port of its own and the senders
are split between them (said in the result, since it is not how the app would be run)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from bench._children import ROOT, cli_environment, running
from bench._harness import free_port, percentile
from bench._webhooks import PATH, unmatched_event
from bench.webhook_ingest import fire


@dataclass
class Ingest:
    rate: float  # acknowledged callbacks per second
    p50_ms: float
    p99_ms: float
    failed: int  # answers other than 2xx, and transport errors
    client_cores: float  # the sending process's CPU time over the wall time


def serve_has_workers_flag() -> bool:
    """Whether `serve` takes --workers (several processes on one port)."""
    shown = subprocess.run([sys.executable, "-m", "entrypoints.cli", "serve", "--help"],
                           cwd=ROOT, capture_output=True, text=True, timeout=60)
    return "--workers" in shown.stdout


@dataclass
class Servers:
    urls: list[str]  # where to send
    logs: list[Path]  # each launched command's output, where it announces it listens

    async def ready(self, seconds: float = 90.0) -> None:
        """Wait until every command said it listens (with --workers N, once all N do)."""
        deadline = time.monotonic() + seconds
        for log in self.logs:
            while ANNOUNCED not in log.read_text(errors="replace"):
                if time.monotonic() > deadline:
                    raise RuntimeError(f"the server did not start within {seconds:.0f} s; "
                                       f"its output: {log.read_text(errors='replace')[-2000:]}")
                await asyncio.sleep(0.2)


ANNOUNCED = "Mall integrations backend on"  # what `serve` prints once the port is open


@contextmanager
def serving(database_url: str, scratch: Path, processes: int,
            shared_port: bool) -> Iterator[Servers]:
    """`processes` servers, ingest only as in bench.webhook_ingest: no worker, the inbox
    messages wait in each process's in-memory broker."""
    servers = Servers([], [])
    commands = []
    for _ in range(1 if shared_port else processes):
        port = str(free_port())
        env = cli_environment(database_url, scratch, redis_url="", embedded_worker="false",
                              host="127.0.0.1", port=port,
                              public_base_url=f"http://127.0.0.1:{port}")
        servers.urls.append(f"http://127.0.0.1:{port}")
        servers.logs.append(scratch / f"serve-{port}.log")
        flags = ["--workers", str(processes)] if shared_port else []
        commands.append((["serve", *flags], env, servers.logs[-1]))
    with running(commands):
        yield servers


async def ingest(urls: list[str], *, requests: int, concurrency: int, warmup: int,
                 request_timeout: float = 60.0) -> Ingest:
    """Send signed callbacks that match no payment, `concurrency` in flight, split evenly
    between the URLs; the first `warmup` are not measured."""
    run = uuid.uuid4().hex[:8]
    share = max(1, concurrency // len(urls))
    connector = aiohttp.TCPConnector(limit=concurrency)
    limit = aiohttp.ClientTimeout(total=request_timeout)
    async with aiohttp.ClientSession(connector=connector, timeout=limit) as session:
        async def spread(tag: str, count: int) -> tuple[list[float], Counter[str], float]:
            bodies = [unmatched_event("suite", f"{run}{tag}", i) for i in range(count)]
            parts = await asyncio.gather(*(
                fire(session, url + PATH, bodies[i::len(urls)], share)
                for i, url in enumerate(urls)))
            latencies = [x for part in parts for x in part[0]]
            outcomes: Counter[str] = sum((part[1] for part in parts), Counter())
            return latencies, outcomes, max(part[2] for part in parts)

        if warmup:
            await spread("w", warmup)
        cpu = time.process_time()
        latencies, outcomes, elapsed = await spread("m", requests)
        cpu = time.process_time() - cpu
    failed = sum(n for key, n in outcomes.items() if key.startswith(("http_", "error_")))
    return Ingest(requests / elapsed, percentile(latencies, 50) * 1000,
                  percentile(latencies, 99) * 1000, failed, cpu / elapsed)
