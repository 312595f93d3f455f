"""Two web processes (`mall serve --workers 2`, one port) and two worker processes (`mall worker
--processes 2`) on one PostgreSQL database and one Redis: a stream of purchases and signed
provider callbacks, one web and one worker process killed in the middle of it, and nothing
lost or done twice."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import uuid
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from adapters.persistence.tables import (
    EvidenceRecord,
    InboxMessage,
    Order,
    OutboxMessage,
    Payment,
    SandboxCharge,
)
from bench._harness import free_port
from bench._webhooks import PATH, signed_headers, unmatched_event
from tests.helpers import ORDER, PAID_OR_LATER, eventually
from tests.integration.worker_processes import on_redis, start_cli, stop_workers

pytestmark = [pytest.mark.redis, pytest.mark.timeout(120)]

TIMINGS = {
    "worker_heartbeat_timeout_ms": 2000, "outbox_lease_seconds": 4.0,
    "sweep_interval_seconds": 1.0, "sweep_older_than_seconds": 1.0,
    "sandbox_webhook_delay_seconds": 0.05, "payment_sync_wait_seconds": 2.0,
    "worker_threads": 2,
    # Parcels do not move on during the test: no new work appears once it has settled.
    "sandbox_tracking_step_seconds": 3600.0,
    # One customer places every order: the velocity rules would hold them all for review.
    "fraud_review_threshold": 0.95,
}
PURCHASES_PER_PHASE = 6
CALLBACKS_PER_PHASE = 25  # each sent twice, at once


def children(pid: int) -> list[int]:
    """The supervisor's serving children (multiprocessing's resource tracker aside)."""
    found = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return [int(child) for child in found
            if b"resource_tracker" not in Path(f"/proc/{child}/cmdline").read_bytes()]


async def kill(pid: int) -> None:
    """SIGKILL, and wait until the supervisor has reaped the process: only then are its
    sockets closed (a dying leader shows as a zombie while its other threads still run),
    and the port's other listener alone takes connections."""
    os.kill(pid, signal.SIGKILL)

    async def gone() -> bool:
        return not Path(f"/proc/{pid}").exists()

    await eventually(gone, timeout=10, what=f"process {pid} to die")


async def purchase(session: aiohttp.ClientSession, base: str, auth: dict[str, str]) -> str:
    """An order and its card payment; the payment's answer may still be pending."""
    async with session.post(f"{base}/v1/orders", json=ORDER, headers=auth) as response:
        assert response.status == 201, await response.text()
        order_id = str((await response.json())["id"])
    async with session.post(f"{base}/v1/orders/{order_id}/payments",
                            json={"payment_method": "pm_sandbox_success"},
                            headers={**auth, "Idempotency-Key": uuid.uuid4().hex}) as response:
        assert response.status in (200, 202), await response.text()
    return order_id


async def callback(session: aiohttp.ClientSession, base: str, body: bytes) -> str:
    async with session.post(base + PATH, data=body, headers=signed_headers(body)) as response:
        assert response.status == 200, await response.text()
        return str((await response.json())["status"])


async def phase(session: aiohttp.ClientSession, base: str, auth: dict[str, str],
                tag: str) -> tuple[list[str], list[str], list[str]]:
    """Purchases and callbacks at once: the orders, the callbacks' event ids, the outcomes."""
    bodies = [unmatched_event("mp", tag, n) for n in range(CALLBACKS_PER_PHASE)]
    orders, *outcomes = await asyncio.gather(
        asyncio.gather(*[purchase(session, base, auth) for _ in range(PURCHASES_PER_PHASE)]),
        *[callback(session, base, body) for body in bodies + bodies])
    return list(orders), [json.loads(body)["id"] for body in bodies], outcomes


@pytest.mark.parametrize("engine_name", ["postgres"])
async def test_two_web_and_two_worker_processes_lose_and_double_nothing(
    settings_factory: Any, tmp_path: Path, engine_name: str,
) -> None:
    port = free_port()
    settings, container = await on_redis(settings_factory, port=port, **TIMINGS)
    log = tmp_path / "processes.log"
    web = start_cli(settings, log, ["serve", "--workers", "2"], port=port, **TIMINGS)
    workers = start_cli(settings, log, ["worker", "--processes", "2"], port=port, **TIMINGS)
    base = f"http://127.0.0.1:{port}"
    try:
        async def started() -> bool:
            text = log.read_text()
            return "(2 processes; api only; PostgreSQL)" in text and "2 worker processes" in text

        await eventually(started, timeout=60, interval=0.2, what="2 web and 2 worker processes")
        assert len(children(web.pid)) == 2 and len(children(workers.pid)) == 2
        # A new connection per request: the kernel spreads them over both web processes.
        connector = aiohttp.TCPConnector(force_close=True)
        async with aiohttp.ClientSession(connector=connector) as session:
            account = {"email": "many@example.com", "password": "long enough password"}
            async with session.post(f"{base}/v1/auth/register", json=account) as response:
                assert response.status == 201, await response.text()
            async with session.post(f"{base}/v1/auth/login", json=account) as response:
                assert response.status == 200, await response.text()
                auth = {"Authorization": f"Bearer {(await response.json())['access_token']}"}
            first = await phase(session, base, auth, "first")
            # Their follow-up work (settlement, shipments, notices) is under way now.
            await kill(children(workers.pid)[0])
            await kill(children(web.pid)[0])
            second = await phase(session, base, auth, "second")
        orders, events, outcomes = (first[i] + second[i] for i in range(3))

        async def settled() -> bool:
            rows = await Order.select(Order.status).where(Order.id.is_in(orders))
            busy = await OutboxMessage.count().where(
                OutboxMessage.status.is_in(["pending", "processing"]))
            return all(row["status"] in PAID_OR_LATER for row in rows) and busy == 0

        await eventually(settled, timeout=45, interval=0.5, what="every order paid, all work done")
        await asyncio.sleep(1.0)  # give a duplicate, if any, the time to show itself
    finally:
        stop_workers(web, workers)
    output = log.read_text()[-3000:]

    assert outcomes.count("accepted") == len(events) == 2 * CALLBACKS_PER_PHASE, output
    assert outcomes.count("duplicate") == len(events), output
    stored = await InboxMessage.select(InboxMessage.event_id).where(
        InboxMessage.event_id.is_in(events))
    assert sorted(row["event_id"] for row in stored) == sorted(events)

    payments = await Payment.select(Payment.order_id, Payment.status).where(
        Payment.order_id.is_in(orders))
    assert sorted(row["order_id"] for row in payments) == sorted(orders)
    assert {row["status"] for row in payments} == {"captured"}
    assert await SandboxCharge.count().where(SandboxCharge.order_id.is_in(orders)) == len(orders)
    transitions = await EvidenceRecord.select(EvidenceRecord.payload).where(
        (EvidenceRecord.kind == "payment.transition")
        & EvidenceRecord.subject.is_in([f"order:{order}" for order in orders]))
    captured = [row for row in transitions if json.loads(row["payload"])["status"] == "captured"]
    assert len(captured) == len(orders)
    leftovers = await OutboxMessage.select(OutboxMessage.topic, OutboxMessage.status).where(
        OutboxMessage.status.is_in(["pending", "processing", "dead"]))
    assert leftovers == [], output
    assert (await container.evidence().verify()).ok
