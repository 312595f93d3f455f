"""Redis stopped in the middle of a stream of orders and payments, then started again.

Once a transaction commits, its answer is its result: no request answers a 5xx, a retry with
its Idempotency-Key replays the first answer, `/readyz` says the broker is degraded, and once
Redis is back (empty: it keeps nothing on disk) the sweep sends what it lost, so every order is
paid, with one payment and one charge, and no order is placed twice.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from adapters.persistence.tables import Order as OrderRow
from adapters.persistence.tables import OutboxMessage, Payment, SandboxCharge
from tests.conftest import FAST, REQUIRE_SERVICES
from tests.helpers import ORDER, eventually

pytestmark = [pytest.mark.redis, pytest.mark.timeout(240)]

TIMINGS = {
    "payment_sync_wait_seconds": 0.3, "sweep_interval_seconds": 0.5,
    "sweep_older_than_seconds": 1.0, "outbox_lease_seconds": 5.0,
    "worker_heartbeat_timeout_ms": 2000, "worker_threads": 2,
}
CUSTOMERS, ORDERS_EACH = 4, 3  # a few orders each: under the fraud screen's velocity rules


class PrivateRedis:
    """A redis-server of this test's own, on its own port, keeping nothing on disk: a restart
    loses every queued message, as a crashed Redis without persistence does."""

    def __init__(self, port: int, log: Path) -> None:
        self.port, self._log = port, log
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self._process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no"], stdout=self._log.open("ab"), stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        raise AssertionError(f"redis-server did not start: {self._log.read_text()[-500:]}")

    def kill(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.send_signal(signal.SIGKILL)
            self._process.wait(timeout=10)


@pytest.fixture
def private_redis(tmp_path: Path,
                  unused_tcp_port_factory: Callable[[], int]) -> Iterator[PrivateRedis]:
    if shutil.which("redis-server") is None:
        if REQUIRE_SERVICES:
            pytest.fail("redis-server is not installed, and CI requires it")
        pytest.skip("redis-server is not installed here")
    server = PrivateRedis(unused_tcp_port_factory(), tmp_path / "redis.log")
    server.start()
    yield server
    server.kill()


def start_worker(settings: Any, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "MALL_REDIS_URL": settings.redis_url,
           "MALL_DATABASE_URL": settings.database_url, "MALL_SQLITE_PATH": settings.sqlite_path,
           "MALL_KEYS_FILE": settings.keys_file,
           "MALL_EVIDENCE_CHECKPOINT_FILE": settings.evidence_checkpoint_path,
           "MALL_PUBLIC_BASE_URL": settings.public_base_url}
    env.update({f"MALL_{k.upper()}": str(v) for k, v in {**FAST, **TIMINGS}.items()})
    return subprocess.Popen([sys.executable, "-m", "entrypoints.cli", "worker"], env=env,
                            stdout=log.open("ab"), stderr=subprocess.STDOUT)


def stop(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=5)


@dataclass
class Exchange:
    auth: dict[str, str]
    path: str
    key: str
    body: dict[str, Any]
    status: int
    answer: Any


async def test_redis_stopped_mid_stream_fails_no_committed_request_and_loses_nothing(
    shop_factory: Any, settings_factory: Any, private_redis: PrivateRedis, tmp_path: Path,
    unused_tcp_port_factory: Callable[[], int],
) -> None:
    port = unused_tcp_port_factory()
    overrides = {"redis_url": private_redis.url, **TIMINGS}
    shop = await shop_factory(port=port, **overrides)
    settings = settings_factory(public_base_url=f"http://127.0.0.1:{port}", **overrides)
    worker = start_worker(settings, tmp_path / "worker.log")
    exchanges: list[Exchange] = []

    async def send(auth: dict[str, str], path: str, body: dict[str, Any], key: str) -> Exchange:
        response = await shop.client.post(path, json=body,
                                          headers={**auth, "Idempotency-Key": key})
        exchange = Exchange(auth, path, key, body, response.status, await response.json())
        exchanges.append(exchange)
        return exchange

    async def purchase(auth: dict[str, str], delay: float) -> None:
        await asyncio.sleep(delay)
        placed = await send(auth, "/v1/orders", ORDER, uuid.uuid4().hex)
        if placed.status == 201:
            await send(auth, f"/v1/orders/{placed.answer['id']}/payments",
                       {"payment_method": "pm_sandbox_success"}, uuid.uuid4().hex)

    try:
        customers = [await shop.sign_up() for _ in range(CUSTOMERS)]
        stream = [purchase(customers[i % CUSTOMERS], 0.25 * i)
                  for i in range(CUSTOMERS * ORDERS_EACH)]

        async def stop_redis_mid_stream() -> dict[str, Any]:
            await asyncio.sleep(0.25 * len(stream) / 3)
            private_redis.kill()

            async def degraded() -> dict[str, Any] | None:
                readiness = dict(await (await shop.client.get("/readyz")).json())
                return readiness if readiness["status"] == "degraded" else None

            return await eventually(degraded, what="/readyz to say the broker is degraded")

        *_, readiness = await asyncio.gather(*stream, stop_redis_mid_stream())

        server_errors = [(e.path, e.status, e.answer) for e in exchanges if e.status >= 500]
        assert not server_errors, server_errors
        assert {e.status for e in exchanges} <= {200, 201, 202}, exchanges
        assert len(exchanges) == 2 * CUSTOMERS * ORDERS_EACH
        assert readiness["status"] == "degraded", readiness
        assert readiness["checks"]["broker"].startswith("degraded"), readiness

        # A client that retries (it saw a timeout, say) gets the first answer back.
        for exchange in exchanges:
            response = await shop.client.post(
                exchange.path, json=exchange.body,
                headers={**exchange.auth, "Idempotency-Key": exchange.key})
            assert response.headers.get("Idempotent-Replayed") == "true", exchange.path
            assert response.status == exchange.status
            assert await response.json() == exchange.answer

        private_redis.start()  # on the same port, empty
        order_ids = [e.answer["id"] for e in exchanges if e.path == "/v1/orders"]

        async def all_paid() -> bool:
            captured = await Payment.count().where(
                Payment.order_id.is_in(order_ids) & (Payment.status == "captured"))
            return captured == len(order_ids)

        await eventually(all_paid, timeout=90, interval=0.25,
                         what="every order to be paid once Redis is back")

        async def outbox_drained() -> bool:
            return await OutboxMessage.count().where(OutboxMessage.status != "done") == 0

        await eventually(outbox_drained, timeout=60, interval=0.25,
                         what="every outbox job to be done")
        await asyncio.sleep(1.0)  # give a duplicate, if any, the time to show itself
    finally:
        stop(worker)

    log = (tmp_path / "worker.log").read_text()
    assert await OrderRow.count() == len(order_ids) == CUSTOMERS * ORDERS_EACH
    for order_id in order_ids:
        payments = await Payment.select(Payment.status).where(Payment.order_id == order_id)
        assert [p["status"] for p in payments] == ["captured"], (order_id, log[-3000:])
        charges = await SandboxCharge.count().where(SandboxCharge.order_id == order_id)
        assert charges == 1, (order_id, log[-3000:])
    assert await OutboxMessage.count().where(OutboxMessage.status == "dead") == 0
