"""Re-record the Toss Payments cassettes: `python -m tests.cassettes.record_toss`.

By default against the local stand-in (`toss_mock.py`, started on 127.0.0.1:18767 and stopped
at the end), which records every cassette.

In Toss's test mode: `TOSS_URL=https://api.tosspayments.com TOSS_SECRET_KEY=test_sk_...`.
Virtual accounts are issued from here, under fresh order ids. A card payment can only be
confirmed after a customer authenticated it in the payment widget, so each card scenario
needs one such payment of the test mode, given as `paymentKey:orderId:amount`:
TOSS_CARD_CONFIRM, TOSS_CARD_DECLINE (a card the test mode declines) and TOSS_CARD_REFUNDS
(the lookup cassette looks this one up too). Scenarios without their payment, and the deposit
(which only the stand-in can simulate), keep their current cassettes. Live keys are refused.

The secret key is filtered out of every cassette (`Authorization: Basic [filtered]`), and
every virtual account `secret` in a recorded answer becomes "[filtered-secret]".
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp
from aiohttp import web

from adapters.payments.toss import TossGateway
from domain.payments import PaymentUpdate
from tests.cassettes.toss_mock import make_app
from tests.integration.toss_scenarios import (
    CASSETTES,
    RECORDED_URL,
    STAND_IN_SECRET_KEY,
    Card,
    account_issued,
    card_confirmed,
    card_declined,
    card_refunds,
    deposit_and_refund,
    lookups,
    outbound_http,
    toss_vcr,
)

Scenario = Callable[[TossGateway], Awaitable[list[PaymentUpdate]]]

STAND_IN_CARDS = {
    "TOSS_CARD_CONFIRM": Card("tgen_success_card_0001", "ord_toss_0001", 15000),
    "TOSS_CARD_DECLINE": Card("tgen_decline_card_0002", "ord_toss_0002", 15000),
    "TOSS_CARD_REFUNDS": Card("tgen_success_card_0003", "ord_toss_0003", 30000),
}
ORDER_TOTAL = 39000  # two teas at 15,000 won and a cup at 9,000


def card_from_env(name: str) -> Card | None:
    value = os.environ.get(name)
    if not value:
        return None
    payment_key, order_id, amount = value.rsplit(":", 2)
    return Card(payment_key, order_id, int(amount))


async def record(gateway: TossGateway, name: str, scenario: Scenario) -> None:
    """Record into a scratch file and put it in place only when the scenario went through."""
    scratch = Path(CASSETTES) / f".partial-{name}"
    scratch.unlink(missing_ok=True)
    try:
        with toss_vcr("once").use_cassette(scratch.name):
            await scenario(gateway)
    except BaseException:
        scratch.unlink(missing_ok=True)
        raise
    scratch.replace(Path(CASSETTES) / name)
    print(f"recorded {name}")


async def main() -> None:
    url = os.environ.get("TOSS_URL")
    secret_key = os.environ.get("TOSS_SECRET_KEY", STAND_IN_SECRET_KEY)
    runner: web.AppRunner | None = None
    cards: dict[str, Card | None]
    if url:
        if not secret_key.startswith("test_sk_"):
            sys.exit("record against Toss's test mode only: TOSS_SECRET_KEY=test_sk_...")
        cards = {name: card_from_env(name) for name in STAND_IN_CARDS}
        run = time.strftime("%Y%m%d%H%M%S")
        orders = [f"pay_toss_{run}_{n}" for n in (4, 5, 6)]
    else:
        runner = web.AppRunner(make_app())
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 18767).start()
        url = RECORDED_URL
        cards = dict(STAND_IN_CARDS.items())
        orders = [f"pay_toss_000{n}" for n in (4, 5, 6)]
    http = outbound_http()
    gateway = TossGateway(http, secret_key, base_url=url)
    issued_order, lookup_order, deposit_order = orders

    async def deposit(order_id: str) -> None:
        async with aiohttp.ClientSession() as session, session.post(
                f"{url}/stand-in/deposit/{order_id}") as response:
            response.raise_for_status()

    plan: list[tuple[str, Scenario | None]] = [
        ("toss_virtual_account.yaml",
         lambda g: account_issued(g, issued_order, ORDER_TOTAL)),
        ("toss_deposit.yaml",
         (lambda g: deposit_and_refund(g, deposit_order, ORDER_TOTAL, deposit))
         if runner is not None else None),
    ]
    if (confirm := cards["TOSS_CARD_CONFIRM"]) is not None:
        plan.append(("toss_card_confirm.yaml", lambda g: card_confirmed(g, confirm)))
    if (decline := cards["TOSS_CARD_DECLINE"]) is not None:
        plan.append(("toss_card_declined.yaml", lambda g: card_declined(g, decline)))
    if (refunds := cards["TOSS_CARD_REFUNDS"]) is not None:
        plan.append(("toss_refunds.yaml", lambda g: card_refunds(g, refunds)))
        plan.append(("toss_lookup.yaml",
                     lambda g: lookups(g, refunds.payment_key, lookup_order, ORDER_TOTAL)))
    plan += [(name, None) for name in ("toss_card_confirm.yaml", "toss_card_declined.yaml",
                                       "toss_refunds.yaml", "toss_lookup.yaml")
             if name not in {recorded for recorded, _ in plan}]
    try:
        for name, scenario in plan:
            if scenario is None:
                print(f"kept {name}: its scenario cannot be recorded here (see the docstring)")
                continue
            await record(gateway, name, scenario)
    finally:
        await http.close()
        if runner is not None:
            await runner.cleanup()


if __name__ == "__main__":
    asyncio.run(main())
