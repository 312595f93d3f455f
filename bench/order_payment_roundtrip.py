"""Order + payment round trip: what a customer waits for from "place order" to "paid".

Starts the app in-process (PostgreSQL by default, `--sqlite` for the embedded engine) with
the embedded worker ON and the sandbox answering at once (webhook delay 0; tracking steps an
hour apart so shipping does not interfere; payment_sync_wait_seconds=10 so the payment call
waits for the provider's answer). Registers and signs in one customer, then M times, one
after another: POST /v1/orders, then POST /v1/orders/{id}/payments with pm_sandbox_success and
a fresh Idempotency-Key; the payment must answer 200 with result status "captured".

    .venv/bin/python -m bench.order_payment_roundtrip [--iterations 200] [--sqlite] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import aiohttp

from adapters.persistence.tables import InboxMessage, OutboxMessage
from bench import _harness as harness
from tests.helpers import ORDER

PASSWORD = "bench password 123"
FAST_SANDBOX: dict[str, Any] = {
    "sandbox_webhook_delay_seconds": 0.0,
    "sandbox_deposit_delay_seconds": 0.0,
    "sandbox_tracking_step_seconds": 3600.0,
    "payment_sync_wait_seconds": 10.0,
    # One customer places every order: the velocity rules would hold them all for review.
    "fraud_review_threshold": 0.95,
}


class BenchFailure(RuntimeError):
    pass


async def expect(response: aiohttp.ClientResponse, status: int, what: str) -> dict[str, Any]:
    text = await response.text()
    if response.status != status:
        raise BenchFailure(f"{what}: expected HTTP {status}, got {response.status}: {text}")
    return dict(json.loads(text))


async def sign_in(session: aiohttp.ClientSession, base: str) -> dict[str, str]:
    email = f"bench-{uuid.uuid4().hex[:8]}@example.com"
    credentials = {"email": email, "password": PASSWORD}
    async with session.post(f"{base}/v1/auth/register", json=credentials) as response:
        await expect(response, 201, "register")
    async with session.post(f"{base}/v1/auth/login", json=credentials) as response:
        token = (await expect(response, 200, "login"))["access_token"]
    return {"Authorization": f"Bearer {token}"}


class Trip(NamedTuple):
    order_s: float
    payment_s: float
    order_id: str


async def round_trip(session: aiohttp.ClientSession, base: str, auth: dict[str, str]) -> Trip:
    """One order and its payment: the seconds each took, and the order's id."""
    started = time.perf_counter()
    async with session.post(f"{base}/v1/orders", json=ORDER, headers=auth) as response:
        order = await expect(response, 201, "place order")
    placed = time.perf_counter()
    async with session.post(
        f"{base}/v1/orders/{order['id']}/payments", json={"payment_method": "pm_sandbox_success"},
        headers={**auth, "Idempotency-Key": uuid.uuid4().hex},
    ) as response:
        operation = await expect(response, 200, f"pay order {order['id']}")
    paid = time.perf_counter()
    result = operation.get("result") or {}
    if result.get("status") != "captured":
        raise BenchFailure(f"pay order {order['id']}: result is not captured: {operation}")
    return Trip(placed - started, paid - placed, order["id"])


async def drain(seconds: float) -> int:
    """Wait (bounded) for the background work the payments set off; how much is left."""
    deadline = time.monotonic() + seconds
    while True:
        left = (await InboxMessage.count().where(
            InboxMessage.status.is_in(["received", "processing"]))
            + await OutboxMessage.count().where(
                OutboxMessage.status.is_in(["pending", "processing"])))
        if left == 0 or time.monotonic() >= deadline:
            return int(left)
        await asyncio.sleep(0.2)


@dataclass
class Timed:
    orders: list[float] = field(default_factory=list)
    payments: list[float] = field(default_factory=list)
    trips: list[float] = field(default_factory=list)
    elapsed: float = 0.0


async def timed_round_trips(session: aiohttp.ClientSession, base: str, auth: dict[str, str], *,
                            iterations: int, warmup: int) -> Timed:
    """`warmup` round trips, then `iterations` timed ones, one after another."""
    for _ in range(warmup):
        await round_trip(session, base, auth)
    timed = Timed()
    began = time.perf_counter()
    for _ in range(iterations):
        order_s, payment_s, _ = await round_trip(session, base, auth)
        timed.orders.append(order_s)
        timed.payments.append(payment_s)
        timed.trips.append(order_s + payment_s)
    timed.elapsed = time.perf_counter() - began
    return timed


async def run(args: argparse.Namespace) -> dict[str, Any]:
    async with harness.running_app(sqlite=args.sqlite, start_worker=True, pool_size=args.pool_size,
                           **FAST_SANDBOX) as app:
        timeout = aiohttp.ClientTimeout(total=args.timeout)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            auth = await sign_in(session, app.base_url)
            timed = await timed_round_trips(session, app.base_url, auth,
                                            iterations=args.iterations, warmup=args.warmup)
        left = await drain(args.drain)
    return {
        **harness.result_header("order_payment_roundtrip", app), "embedded_worker": True,
        "iterations": args.iterations, "warmup": args.warmup,
        "elapsed_s": round(timed.elapsed, 3), "round_trip": harness.summary_ms(timed.trips),
        "order": harness.summary_ms(timed.orders), "payment": harness.summary_ms(timed.payments),
        **harness.quarter_medians(timed.trips),
        "background_work_left": left, "settings": FAST_SANDBOX,
    }


def report(result: dict[str, Any]) -> list[str]:
    def row(name: str, s: dict[str, float]) -> str:
        return harness.latency_row(name, s, name_width=11, digits=8)

    return [
        f"order+payment round trip on {result['database']}, embedded worker ON, "
        f"sandbox answering at once",
        f"  iterations  {result['iterations']} sequential (+{result['warmup']} warm-up, "
        f"not counted), {result['elapsed_s']:.1f} s",
        row("round trip", result["round_trip"]),
        row("  order", result["order"]),
        row("  payment", result["payment"]),
        harness.quarter_medians_line(result),
        f"  background work left at shutdown: {result['background_work_left']}",
    ]


def main() -> None:
    parser = harness.benchmark_parser(__doc__)
    harness.add_count(parser, "-m", "--iterations", default=200,
              what="orders placed and paid, one after another")
    harness.add_count(parser, "--warmup", default=0, what="extra round trips first, not measured")
    parser.add_argument("--drain", type=float, default=15.0,
                        help="seconds to wait for background work before shutdown (default 15)")
    try:
        harness.parse_and_run(parser, run, report, label_width=12,
                      valid=lambda a: a.iterations >= 1 and a.warmup >= 0,
                      complaint="--iterations must be positive, --warmup not negative")
    except BenchFailure as exc:
        parser.exit(1, f"benchmark failed: {exc}\n")


if __name__ == "__main__":
    main()
