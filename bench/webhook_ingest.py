"""Webhook ingest: how fast signed provider callbacks are acknowledged.

Starts the app in-process on a fresh PostgreSQL database and POSTs N distinct, signed
`payment.succeeded` sandbox events to /v1/webhooks/sandbox with C requests in flight. Each
event's reference matches no payment, so nothing downstream would change; what is measured is
the ingest path of every callback: signature check, inbox insert, evidence-ledger append,
commit, enqueue, 200 ack.

By default the embedded worker is NOT started (ingest only): the enqueued inbox messages just
wait in the in-memory broker. `--with-worker` starts it, so processing competes for the CPU.

    .venv/bin/python -m bench.webhook_ingest [-n 2000] [-c 32] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
import uuid
from collections import Counter
from typing import Any

import aiohttp

from adapters.persistence.tables import EvidenceRecord, InboxMessage
from adapters.queue import QUEUE
from bench._harness import (
    Running,
    add_load_flags,
    benchmark_parser,
    parse_and_run,
    result_header,
    running_app,
    summary_ms,
)
from bench._webhooks import PATH, signed_headers, unmatched_event


async def fire(session: aiohttp.ClientSession, url: str, bodies: list[bytes],
               concurrency: int) -> tuple[list[float], Counter[str], float]:
    """Send every body once with `concurrency` requests in flight; latencies in seconds."""
    latencies: list[float] = []
    outcomes: Counter[str] = Counter()
    pending = iter(range(len(bodies)))  # shared by the senders: each index is sent once

    async def sender() -> None:
        for index in pending:
            body = bodies[index]
            headers = signed_headers(body)
            started = time.perf_counter()
            try:
                async with session.post(url, data=body, headers=headers) as response:
                    answer = await response.read()
                    latencies.append(time.perf_counter() - started)
                    if 200 <= response.status < 300:
                        try:
                            outcomes[str(json.loads(answer).get("status", "?"))] += 1
                        except (ValueError, AttributeError):
                            outcomes["2xx_unparsed"] += 1
                    else:
                        outcomes[f"http_{response.status}"] += 1
            except (aiohttp.ClientError, TimeoutError) as exc:
                latencies.append(time.perf_counter() - started)
                outcomes[f"error_{type(exc).__name__}"] += 1

    began = time.perf_counter()
    await asyncio.gather(*(sender() for _ in range(concurrency)))
    return latencies, outcomes, time.perf_counter() - began


async def run(args: argparse.Namespace) -> dict[str, Any]:
    run_id = uuid.uuid4().hex[:8]
    async with running_app(sqlite=args.sqlite, start_worker=args.with_worker,
                           pool_size=args.pool_size) as app:
        return await measure(args, app, run_id)


async def measure(args: argparse.Namespace, app: Running, run_id: str) -> dict[str, Any]:
    url = app.base_url + PATH
    connector = aiohttp.TCPConnector(limit=args.concurrency)
    timeout = aiohttp.ClientTimeout(total=args.timeout)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        if args.warmup:
            warm = [unmatched_event("bench", f"{run_id}w", i) for i in range(args.warmup)]
            await fire(session, url, warm, args.concurrency)
        bodies = [unmatched_event("bench", run_id, i) for i in range(args.requests)]
        cpu = time.process_time()
        latencies, outcomes, elapsed = await fire(session, url, bodies, args.concurrency)
        cpu = time.process_time() - cpu
    stored = await InboxMessage.count().where(
        InboxMessage.event_id.like(f"evt_bench_{run_id}_%"))
    evidence = await EvidenceRecord.count().where(EvidenceRecord.kind == "webhook.received")
    queued = None if app.worker else app.container.broker().queues[QUEUE].qsize()
    ok = sum(n for key, n in outcomes.items() if not key.startswith(("http_", "error_")))
    return {
        **result_header("webhook_ingest", app),
        "embedded_worker": app.worker,
        "requests": args.requests, "concurrency": args.concurrency, "warmup": args.warmup,
        "elapsed_s": round(elapsed, 3),
        "throughput_rps": round(args.requests / elapsed, 1) if elapsed else 0.0,
        **summary_ms(latencies),
        # This process's CPU (all its threads: the server and the sending client) per callback.
        "cpu_ms_per_request": round(cpu * 1000 / args.requests, 3),
        "non_2xx": args.requests - ok, "outcomes": dict(outcomes),
        "inbox_rows_stored": stored, "evidence_webhook_records": evidence,
        "messages_left_in_broker": queued,
    }


def report(result: dict[str, Any]) -> list[str]:
    worker = ("ON (actors processed events while ingesting)" if result["embedded_worker"]
              else "OFF (ingest only; inbox messages waited in the in-memory broker)")
    return [
        f"webhook ingest on {result['database']}, embedded worker {worker}",
        f"  N (requests)        {result['requests']}  (+{result['warmup']} warm-up, not counted)",
        f"  concurrency         {result['concurrency']}",
        f"  elapsed             {result['elapsed_s']:.3f} s",
        f"  throughput          {result['throughput_rps']:.1f} req/s",
        f"  ack latency p50     {result['p50_ms']:.2f} ms",
        f"  ack latency p90     {result['p90_ms']:.2f} ms",
        f"  ack latency p99     {result['p99_ms']:.2f} ms",
        f"  ack latency max     {result['max_ms']:.2f} ms",
        f"  ack latency mean    {result['mean_ms']:.2f} ms",
        f"  process CPU         {result['cpu_ms_per_request']:.3f} ms per callback "
        "(server and client)",
        f"  non-2xx answers     {result['non_2xx']}   outcomes: {result['outcomes']}",
        f"  inbox rows stored   {result['inbox_rows_stored']}   evidence webhook records: "
        f"{result['evidence_webhook_records']}   left in broker: "
        f"{result['messages_left_in_broker']}",
    ]


def main() -> None:
    parser = benchmark_parser(__doc__)
    parser.add_argument("--with-worker", action="store_true",
                        help="also run the embedded worker (default: ingest only)")
    add_load_flags(parser, requests=(2000, "distinct webhook events to send"),
                   concurrency=(32, "requests in flight"),
                   warmup=(0, "extra events sent first and not measured"))
    parse_and_run(parser, run, report, label_width=20,
                  valid=lambda a: a.requests >= 1 and a.concurrency >= 1 and a.warmup >= 0,
                  complaint="--requests and --concurrency must be positive, "
                            "--warmup not negative")


if __name__ == "__main__":
    main()
