"""Small helpers for tests that wait on background work."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

T = TypeVar("T")
# An order whose money is in: its goods may be anywhere on their way.
PAID_OR_LATER = ("paid", "partially_shipped", "shipped", "partially_delivered", "delivered")


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


def order_line(sku: str, title: str, seller_id: str, quantity: int,
               unit_price: int) -> dict[str, Any]:
    return {"sku": sku, "title": title, "seller_id": seller_id, "quantity": quantity,
            "unit_price": unit_price}


def address(recipient: str, line1: str, city: str, postal_code: str,
            country: str) -> dict[str, str]:
    return {"recipient": recipient, "line1": line1, "city": city,
            "postal_code": postal_code, "country": country}


def order_request(currency: str, lines: list[dict[str, Any]], shipping_address: dict[str, str],
                  note: str) -> dict[str, Any]:
    """The body of POST /v1/orders, sent with the sandbox carrier."""
    return {"currency": currency, "lines": lines, "shipping_address": shipping_address,
            "carrier": "sandbox-express", "note": note}


ORDER = order_request("KRW", [order_line("TEA-01", "Jeju green tea", "seller-a", 2, 15000),
                              order_line("CUP-02", "Celadon cup", "seller-b", 1, 9000)],
                      address("Ada Lovelace", "1 Sejong-daero", "Seoul", "04524", "KR"),
                      note="please ring twice")


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


USD_ORDER = order_request("USD", [order_line("MUG-01", "Stoneware mug", "seller-a", 2, 1250),
                                  order_line("TEA-09", "Loose leaf tea", "seller-b", 1, 1800)],
                          address("Grace Hopper", "1 Main Street", "Arlington", "22201", "US"),
                          note="")
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
