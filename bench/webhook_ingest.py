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

from adapters.payments.sandbox import SIGNATURE_HEADER
from adapters.persistence.tables import EvidenceRecord, InboxMessage
from adapters.queue import QUEUE
from adapters.signing import sign
from bench._harness import (
    Running,
    add_common_arguments,
    command_line,
    error_lines,
    run_and_report,
    running_app,
    summary_ms,
)

SECRET = "whsec_sandbox_payments_dev"  # Settings.sandbox_webhook_secrets[0]
PATH = "/v1/webhooks/sandbox"


def event_body(run: str, index: int) -> bytes:
    event = {
        "id": f"evt_bench_{run}_{index:06d}", "type": "payment.succeeded",
        "created": int(time.time()),
        "data": {"reference": f"sbx_bench_nomatch_{run}_{index:06d}", "order_id": None,
                 "status": "succeeded", "amount": 10_000, "currency": "KRW",
                 "failure_code": None},
    }
    return json.dumps(event, separators=(",", ":")).encode()


async def fire(session: aiohttp.ClientSession, url: str, bodies: list[bytes],
               concurrency: int) -> tuple[list[float], Counter[str], float]:
    """Send every body once with `concurrency` requests in flight; latencies in seconds."""
    latencies: list[float] = []
    outcomes: Counter[str] = Counter()
    pending = iter(range(len(bodies)))  # shared by the senders: each index is sent once

    async def sender() -> None:
        for index in pending:
            body = bodies[index]
            headers = {"Content-Type": "application/json",
                       SIGNATURE_HEADER: sign(SECRET, body)}
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
            warm = [event_body(f"{run_id}w", i) for i in range(args.warmup)]
            await fire(session, url, warm, args.concurrency)
        bodies = [event_body(run_id, i) for i in range(args.requests)]
        latencies, outcomes, elapsed = await fire(session, url, bodies, args.concurrency)
    stored = await InboxMessage.count().where(
        InboxMessage.event_id.like(f"evt_bench_{run_id}_%"))
    evidence = await EvidenceRecord.count().where(EvidenceRecord.kind == "webhook.received")
    queued = None if app.worker else app.container.broker().queues[QUEUE].qsize()
    ok = sum(n for key, n in outcomes.items() if not key.startswith(("http_", "error_")))
    return {
        "benchmark": "webhook_ingest", "date": time.strftime("%Y-%m-%d %H:%M:%S %z"),
        "engine": app.engine, "database": app.database, "pool_size": app.pool_size,
        "embedded_worker": app.worker,
        "requests": args.requests, "concurrency": args.concurrency, "warmup": args.warmup,
        "elapsed_s": round(elapsed, 3),
        "throughput_rps": round(args.requests / elapsed, 1) if elapsed else 0.0,
        **summary_ms(latencies),
        "non_2xx": args.requests - ok, "outcomes": dict(outcomes),
        "inbox_rows_stored": stored, "evidence_webhook_records": evidence,
        "messages_left_in_broker": queued,
        "code": None, "command": command_line(),  # code: filled in by main()
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
        f"  non-2xx answers     {result['non_2xx']}   outcomes: {result['outcomes']}",
        f"  inbox rows stored   {result['inbox_rows_stored']}   evidence webhook records: "
        f"{result['evidence_webhook_records']}   left in broker: "
        f"{result['messages_left_in_broker']}",
        *error_lines(result.get("errors_logged", {})),
        f"  code                {result['code']}   date {result['date']}",
        f"  command             {result['command']}",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", "--requests", type=int, default=2000,
                        help="distinct webhook events to send (default 2000)")
    parser.add_argument("-c", "--concurrency", type=int, default=32,
                        help="requests in flight (default 32)")
    parser.add_argument("--warmup", type=int, default=0,
                        help="extra events sent first and not measured (default 0)")
    parser.add_argument("--with-worker", action="store_true",
                        help="also run the embedded worker (default: ingest only)")
    add_common_arguments(parser)
    args = parser.parse_args()
    if args.requests < 1 or args.concurrency < 1 or args.warmup < 0:
        parser.error("--requests and --concurrency must be positive, --warmup not negative")
    run_and_report(args, run, report)


if __name__ == "__main__":
    main()
