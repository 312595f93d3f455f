"""What one purchase costs the database: orders placed and paid one after another while
every asyncpg round trip in the process is counted, until each order is settled (paid, its
shipments requested, the gateway's callback about it received, the outbox and inbox
drained, its evidence sealed)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import aiohttp
import asyncpg

from bench.order_payment_roundtrip import round_trip
from bench.sql_count import BACKGROUND, CALLBACK, CUSTOMER, SqlCounter, Tally, counting

SETTLED = """
SELECT
  (SELECT count(*) FROM orders WHERE id = ANY($1) AND status = 'paid') = cardinality($1)
  AND (SELECT count(DISTINCT order_id) FROM shipment WHERE order_id = ANY($1))
      = cardinality($1)
  AND NOT EXISTS (SELECT 1 FROM outbox_message
                  WHERE status IN ('pending', 'processing') AND created_at >= $2)
  AND NOT EXISTS (SELECT 1 FROM inbox_message
                  WHERE status IN ('received', 'processing') AND received_at >= $2)
  AND (SELECT count(DISTINCT payload -> 'data' ->> 'order_id') FROM inbox_message
       WHERE received_at >= $2 AND payload -> 'data' ->> 'order_id' = ANY($1))
      = cardinality($1)
"""  # $2: when counting began (earlier phases leave callbacks nobody processed). The sandbox
# gateway's callback about each payment has come in too: it may come after the order is paid.
# Evidence appended and not sealed into the chain yet has no sequence number.
SEALED = "SELECT NOT EXISTS (SELECT 1 FROM evidence_record WHERE seq IS NULL)"
OUTBOX_IDLE = ("SELECT NOT EXISTS (SELECT 1 FROM outbox_message "
               "WHERE status IN ('pending', 'processing'))")


@dataclass
class Cost:
    purchases: int
    customer: Tally  # the customer's own requests: the order and the payment
    callbacks: Tally  # the provider's webhooks about the payment
    background: Tally  # workers: outbox, inbox, sealing; anything outside a request
    settle_s: float  # from the first order to the last one settled
    settled: bool
    kinds: dict[str, int]  # work statements by first word (SELECT, INSERT, ...), all origins
    stand_ins: int = 0  # work statements on the sandbox providers' own tables, all origins

    @property
    def total(self) -> Tally:
        summed = Tally()
        for part in (self.customer, self.callbacks, self.background):
            summed.add(part)
        return summed

    def per_purchase(self, value: int) -> float:
        return value / self.purchases


async def counted_purchases(session: aiohttp.ClientSession, base: str, auth: dict[str, str],
                            database_url: str, *, purchases: int, wait: float = 20.0,
                            counter: SqlCounter | None = None) -> Cost:
    """`purchases` orders placed and paid back to back, counted until all are settled (at
    most `wait` seconds after the last), once the work of earlier purchases is done (at most
    `wait` seconds too). The benchmark watches with a connection of its own, opened before
    counting starts and left out of the counts."""
    watcher = await asyncpg.connect(database_url)
    counter = counter or SqlCounter()
    counter.ignore(watcher)

    async def sealed() -> bool:
        return bool(await watcher.fetchval(SEALED))

    async def quiet() -> bool:  # the work of the purchases timed before is done
        return bool(await watcher.fetchval(OUTBOX_IDLE)) and await sealed()

    try:
        await _wait_until(quiet, wait)
        since = await watcher.fetchval("SELECT now()")
        began = time.perf_counter()
        with counting(counter):
            orders = [(await round_trip(session, base, auth)).order_id
                      for _ in range(purchases)]

            async def settled() -> bool:
                return bool(await watcher.fetchval(SETTLED, orders, since)) and await sealed()

            done = await _wait_until(settled, wait)
        settle_s = time.perf_counter() - began
    finally:
        await watcher.close()
    return Cost(purchases, counter.total(CUSTOMER), counter.total(CALLBACK),
                counter.total(BACKGROUND), settle_s, done, dict(counter.kinds),
                counter.stand_ins)


async def _wait_until(check: Callable[[], Awaitable[bool]], seconds: float) -> bool:
    """Ask every 20 ms until `check` says yes (True) or `seconds` pass (False)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if await check():
            return True
        await asyncio.sleep(0.02)
    return False
