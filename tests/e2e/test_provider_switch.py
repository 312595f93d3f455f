"""Switching payment gateways in the middle of a stream of purchases, through the provider
registry's admin API: new payments go to the replacement at once, the payments the old
gateway holds settle on it (its webhooks still accepted), it is retired once none is left,
and nothing is lost or doubled."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from typing import Any

import pytest

from adapters.persistence.tables import InboxMessage, Payment, SandboxCharge
from tests.e2e.identity_steps import admin_of
from tests.e2e.stripe_steps import stripe_shop
from tests.helpers import USD_ORDER, eventually

pytestmark = pytest.mark.timeout(240)

CUSTOMERS, AT_ONCE = 20, 10
CAPTURED = "captured"


async def register(shop: Any, admin: dict[str, str], provider: str, status: str,
                   **terms: Any) -> dict[str, Any]:
    response = await shop.client.post("/v1/admin/provider-contracts", headers=admin, json={
        "capability": "payments", "provider": provider, "status": status, **terms})
    assert response.status == 201, await response.text()
    return dict(await response.json())


async def plan(shop: Any, admin: dict[str, str]) -> dict[str, dict[str, Any]]:
    response = await shop.client.get("/v1/admin/provider-switches/payments", headers=admin)
    assert response.status == 200, await response.text()
    return {line["provider"]: line for line in (await response.json())["providers"]}


async def purchase(shop: Any, auth: dict[str, str], token: str) -> tuple[str, dict[str, Any]]:
    order = await shop.place(auth, USD_ORDER)
    status, operation = await shop.pay(auth, order["id"], token)
    assert status in (200, 202), operation
    if status == 202:  # slower than the request waits (a loaded machine): follow it

        async def ended() -> dict[str, Any] | None:
            seen = await shop.operation(auth, operation["id"])
            return seen if seen["status"] not in ("pending", "processing") else None

        operation = await eventually(ended, timeout=60, what="the payment to end")
    return order["id"], operation


async def stream(shop: Any, customers: list[dict[str, str]], tokens: list[str],
                 start: int) -> list[tuple[str, dict[str, Any]]]:
    done: list[tuple[str, dict[str, Any]]] = []
    for first in range(0, len(tokens), AT_ONCE):
        done += await asyncio.gather(*(
            purchase(shop, customers[(start + first + i) % len(customers)], token)
            for i, token in enumerate(tokens[first:first + AT_ONCE])))
    return done


# 200 purchases on PostgreSQL, the production database; fewer on SQLite.
@pytest.mark.parametrize(("engine_name", "purchases"), [("sqlite", 40), ("postgres", 200)])
async def test_a_gateway_switch_mid_stream_settles_every_payment_once_where_it_started(
        shop_factory: Any, aiohttp_server: Any, purchases: int) -> None:
    # Deposits to the sandbox's virtual accounts arrive when the test says: they are the
    # old gateway's work in flight across the switch.
    # (Ten orders per customer: the fraud screen's velocity rule stays out of this.)
    shop, stripe = await stripe_shop(shop_factory, aiohttp_server,
                                     sandbox_deposit_delay_seconds=3600,
                                     fraud_review_threshold=1, fraud_reject_threshold=1,
                                     provider_retirement_interval_seconds=1)
    admin = await admin_of(shop)
    await register(shop, admin, "sandbox", "active")
    await register(shop, admin, "stripe", "standby", countries=["US"], currencies=["USD"],
                   methods=["card"])
    customers = list(await asyncio.gather(*(shop.sign_up() for _ in range(CUSTOMERS))))

    # The first half: the sandbox takes everything (every other one a virtual account).
    half = purchases // 2
    before = await stream(shop, customers, [
        "pm_sandbox_virtual_account" if i % 2 else "pm_sandbox_success" for i in range(half)], 0)
    waiting = [operation["result"]["payment_id"] for _, operation in before
               if operation["result"]["status"] == "awaiting_deposit"]
    assert len(waiting) == half // 2

    response = await shop.client.post("/v1/admin/provider-switches", headers=admin, json={
        "capability": "payments", "from": "sandbox", "to": "stripe"})
    assert response.status == 200, await response.text()
    switched = {line["provider"]: line for line in (await response.json())["providers"]}
    assert switched["sandbox"] == {"provider": "sandbox", "statuses": ["retiring"],
                                   "takes_new_work": False, "in_flight": len(waiting)}
    assert switched["stripe"]["takes_new_work"] and switched["stripe"]["in_flight"] == 0

    # The second half goes to Stripe, while the deposits for the sandbox's accounts arrive.
    references = [row["reference"] for row in await SandboxCharge.select(
        SandboxCharge.reference).where(SandboxCharge.merchant_reference.is_in(waiting))]
    sandbox = shop.container.sandbox_gateway()
    after, deposited = await asyncio.gather(
        stream(shop, customers, ["pm_card_visa"] * half, half),
        asyncio.gather(*(sandbox.deposit(reference) for reference in references)))
    assert all(deposited)
    uncaptured = [op for _, op in after if (op.get("result") or {}).get("status") != CAPTURED]
    assert not uncaptured, json.dumps(uncaptured[0])

    async def settled() -> bool:
        busy = await Payment.count().where(Payment.status != CAPTURED)
        unprocessed = await InboxMessage.count().where(
            InboxMessage.status.is_in(["received", "processing"]))
        return busy == 0 and unprocessed == 0

    await eventually(settled, timeout=60, what="every payment to be captured")
    payments = await Payment.select(Payment.id, Payment.order_id, Payment.provider)
    by_order = Counter(row["order_id"] for row in payments)
    assert len(by_order) == purchases and set(by_order.values()) == {1}  # none lost or doubled
    provider_of = {row["id"]: row["provider"] for row in payments}
    assert [provider_of[op["result"]["payment_id"]] for _, op in before] == ["sandbox"] * half
    assert [provider_of[op["result"]["payment_id"]] for _, op in after] == ["stripe"] * half
    # Each charged once, at the provider it started with.
    assert await SandboxCharge.count() == half
    intents = Counter(i["metadata"]["payment_id"] for i in stripe.books.intents.values())
    assert len(intents) == half and set(intents.values()) == {1}
    assert await InboxMessage.count().where(InboxMessage.status == "failed") == 0

    # Drained: the periodic job retires the sandbox's contract; history stays.
    assert (await plan(shop, admin))["sandbox"]["in_flight"] == 0

    async def retired() -> dict[str, Any] | None:
        contracts = (await (await shop.client.get(
            "/v1/admin/provider-contracts", headers=admin)).json())["contracts"]
        old: dict[str, Any] = next(c for c in contracts if c["provider"] == "sandbox")
        return old if old["status"] == "retired" else None

    old = await eventually(retired, what="the drained sandbox contract to be retired")
    assert [step["status"] for step in old["history"]] == ["active", "retiring", "retired"]
    report = await shop.client.post("/v1/admin/evidence/verify", headers=admin)
    assert report.status == 200, await report.text()
    assert (await report.json())["ok"] is True
