"""Small helpers for tests that wait on background work."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

T = TypeVar("T")


async def eventually(check: Callable[[], Awaitable[T]], *, timeout: float = 15.0,
                     interval: float = 0.05, what: str = "condition") -> T:
    """Poll `check` until it returns something truthy; fail with `what` after `timeout`."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = await check()
        if last:
            return last
        await asyncio.sleep(interval)
    raise AssertionError(f"timed out waiting for {what}; last value: {last!r}")


ORDER = {
    "currency": "KRW",
    "lines": [
        {"sku": "TEA-01", "title": "Jeju green tea", "seller_id": "seller-a", "quantity": 2,
         "unit_price": 15000},
        {"sku": "CUP-02", "title": "Celadon cup", "seller_id": "seller-b", "quantity": 1,
         "unit_price": 9000},
    ],
    "shipping_address": {"recipient": "Ada Lovelace", "line1": "1 Sejong-daero",
                         "city": "Seoul", "postal_code": "04524", "country": "KR"},
    "carrier": "sandbox-express",
    "note": "please ring twice",
}


class RecordingLedger:
    """An EvidenceLedger that keeps the drafts for the test to read."""

    def __init__(self) -> None:
        self.drafts: list[Any] = []

    async def record(self, draft: Any) -> None:
        self.drafts.append(draft)


class NoAlerts:
    """An AlertSink for tests in which no alert may fire."""

    async def alert(self, alert: Any) -> None:
        raise AssertionError(f"unexpected alert {alert}")


USD_ORDER = {
    "currency": "USD",
    "lines": [
        {"sku": "MUG-01", "title": "Stoneware mug", "seller_id": "seller-a", "quantity": 2,
         "unit_price": 1250},
        {"sku": "TEA-09", "title": "Loose leaf tea", "seller_id": "seller-b", "quantity": 1,
         "unit_price": 1800},
    ],
    "shipping_address": {"recipient": "Grace Hopper", "line1": "1 Main Street",
                         "city": "Arlington", "postal_code": "22201", "country": "US"},
    "carrier": "sandbox-express",
    "note": "",
}
# Stripe first for US dollar cards, the sandbox for everything else.
STRIPE_FIRST = [
    {"provider": "stripe", "countries": ["US"], "currencies": ["USD"], "methods": ["card"],
     "priority": 10},
    {"provider": "sandbox", "countries": ["*"], "currencies": ["*"], "methods": ["*"],
     "priority": 100},
]


async def work_done() -> bool:
    """True once no outbox command waits or runs and no callback waits in the inbox: what
    was set off has happened, so checking afterwards that nothing changed means something."""
    from adapters.persistence.tables import InboxMessage, OutboxMessage

    outbox = await OutboxMessage.count().where(
        OutboxMessage.status.is_in(["pending", "processing"]))
    inbox = await InboxMessage.count().where(
        InboxMessage.status.is_in(["received", "processing"]))
    return outbox == 0 and inbox == 0
