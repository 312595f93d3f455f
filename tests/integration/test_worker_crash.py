"""A worker killed in the middle of a job (Redis broker): after a restart the job finishes,
and it takes effect once."""

from __future__ import annotations

import asyncio
import json
import signal
from pathlib import Path
from typing import Any

import pytest

from adapters.persistence.tables import EvidenceRecord, OutboxMessage, Payment, SandboxCharge
from application.ordering import LineInput, PlaceOrder
from domain.commands import AuthorizePayment
from tests.helpers import eventually
from tests.integration.worker_processes import on_redis, start_worker, stop_workers

pytestmark = [pytest.mark.redis, pytest.mark.timeout(120)]

TIMINGS = {
    "sandbox_stall_seconds": 4.0, "outbox_lease_seconds": 6.0,
    "worker_heartbeat_timeout_ms": 2000, "sweep_interval_seconds": 1.0,
    "sweep_older_than_seconds": 1.0, "payment_sync_wait_seconds": 0.1,
    "sandbox_webhook_delay_seconds": 3600.0, "worker_threads": 2,
}


async def _payment_reaches(payment_id: str, status: str, *, timeout: float, what: str) -> None:
    async def reached() -> bool:
        row = await Payment.select(Payment.status).where(Payment.id == payment_id).first()
        return bool(row["status"] == status)

    await eventually(reached, timeout=timeout, what=what)


async def test_a_killed_worker_leaves_the_job_to_finish_once_after_restart(
    settings_factory: Any, tmp_path: Path,
) -> None:
    settings, container = await on_redis(settings_factory, **TIMINGS)

    customer = await container.accounts().register("kill@example.com", "long enough password")
    order = await container.ordering().place(PlaceOrder(
        customer_id=customer.id, currency="KRW",
        lines=[LineInput("SKU", "Tea", "seller-a", 1, 10000)],
        shipping_address={"recipient": "A", "line1": "1 Main", "line2": "", "city": "Seoul",
                          "postal_code": "04524", "country": "KR"},
        carrier="sandbox-express",
    ))
    started = await container.payments().start(
        customer_id=customer.id, order_id=order.id, method_token="pm_sandbox_stall")
    assert not started.final  # queued on Redis; no worker runs yet

    log = tmp_path / "worker.log"
    first = start_worker(settings, log, **TIMINGS)
    try:
        await _payment_reaches(started.payment_id, "processing", timeout=30,
                               what="the first worker to take the job")
        await asyncio.sleep(1.0)  # it is now waiting on the (stalled) provider
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
    assert await SandboxCharge.count() == 0, "the provider was not reached before the kill"

    second = start_worker(settings, log, **TIMINGS)
    try:
        await _payment_reaches(started.payment_id, "captured", timeout=60,
                               what="the restarted worker to finish the job")
        await asyncio.sleep(2.0)  # give a duplicate, if any, the time to show itself
    finally:
        stop_workers(second)

    assert await SandboxCharge.count() == 1, log.read_text()[-3000:]
    rows = await EvidenceRecord.select(EvidenceRecord.payload).where(
        (EvidenceRecord.kind == "payment.transition")
        & (EvidenceRecord.subject == f"order:{order.id}"))
    statuses = [json.loads(r["payload"])["status"] for r in rows]
    assert statuses.count("captured") == 1
    job = await OutboxMessage.select().where(
        OutboxMessage.topic == AuthorizePayment.__name__).first()
    assert job["status"] == "done"
    assert (await container.ordering().get(customer.id, order.id))["status"] == "paid"
