"""Failover between payment gateways, end to end: when the gateway a payment is routed to
cannot be reached, the customer is offered the others at once, and is never charged twice."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from adapters.persistence.tables import (
    EvidenceRecord,
    IdempotencyKey,
    Incident,
    Operation,
    OutboxMessage,
    Payment,
    SandboxCharge,
)
from tests.helpers import PAID_OR_LATER, STRIPE_FIRST, USD_ORDER, eventually

pytestmark = pytest.mark.timeout(60)

CONTRACTS = STRIPE_FIRST
PAID = PAID_OR_LATER


async def unreachable_stripe_shop(shop_factory: Any, closed_port: int, **overrides: Any) -> Any:
    """Stripe first for US dollars, but nothing listens where its API should be."""
    return await shop_factory(
        payment_providers=["stripe", "sandbox"], payment_contracts=CONTRACTS,
        stripe_api_key="sk_test_e2e_failover", stripe_webhook_secrets=["whsec_e2e_failover"],
        stripe_base_url=f"http://127.0.0.1:{closed_port}",
        sandbox_tracking_step_seconds=3600, **overrides)


async def pay(shop: Any, auth: dict[str, str], order_id: str,
              body: dict[str, Any]) -> tuple[int, str, dict[str, Any]]:
    response = await shop.client.post(
        f"/v1/orders/{order_id}/payments", json=body,
        headers={**auth, "Idempotency-Key": uuid.uuid4().hex})
    return response.status, response.content_type, dict(await response.json())


async def drained() -> None:
    """Wait until the outbox has no work left (notifications, alerts, parcels)."""

    async def idle() -> bool:
        busy = await OutboxMessage.count().where(
            OutboxMessage.status.is_in(["pending", "processing"]))
        return busy == 0

    await eventually(idle, what="the outbox to drain")


async def test_an_unreachable_gateway_fails_at_once_and_the_alternative_pays_exactly_once(
    shop_factory: Any, unused_tcp_port_factory: Callable[[], int],
) -> None:
    shop = await unreachable_stripe_shop(shop_factory, unused_tcp_port_factory())
    auth = await shop.sign_up()
    order = await shop.place(auth, USD_ORDER)

    started = time.monotonic()
    status, _, operation = await pay(shop, auth, order["id"], {"payment_method": "pm_card_visa"})
    assert status == 200, operation
    assert time.monotonic() - started < 3  # no waiting out timeouts or retry schedules
    assert operation["status"] == "failed", operation
    result = operation["result"]
    assert result["failure_code"] == "provider_unavailable"
    assert result["alternatives"] == ["sandbox"]
    view = await shop.order(auth, order["id"])
    assert view["status"] == "pending_payment"
    [failed] = view["payments"]
    assert failed["provider"] == "stripe" and failed["status"] == "failed"
    assert failed["captured"] == failed["authorized"] == 0

    status, _, operation = await pay(shop, auth, order["id"], {
        "payment_method": "pm_sandbox_success", "provider": "sandbox"})
    assert status == 200, operation
    assert operation["status"] == "succeeded" and operation["result"]["status"] == "captured"

    # Paid exactly once, and it stays so once everything the payment set off is done.
    await drained()
    await asyncio.sleep(0.5)
    view = await shop.order(auth, order["id"])
    assert view["status"] in PAID
    assert sorted((p["provider"], p["status"]) for p in view["payments"]) == [
        ("sandbox", "captured"), ("stripe", "failed")]
    assert await SandboxCharge.count() == 1
    assert view["money"]["net"] == view["total"] == order["total"]
    assert view["money"]["captured"] == order["total"] and view["money"]["refunded"] == 0
    assert await Incident.count().where(Incident.kind == "surplus_charge") == 0


async def test_while_the_circuit_is_open_a_payment_is_refused_with_the_alternatives(
    shop_factory: Any, unused_tcp_port_factory: Callable[[], int],
) -> None:
    shop = await unreachable_stripe_shop(shop_factory, unused_tcp_port_factory(),
                                         breaker_threshold=1)
    auth = await shop.sign_up()
    first = await shop.place(auth, USD_ORDER)
    status, _, operation = await pay(shop, auth, first["id"], {"payment_method": "pm_card_visa"})
    assert status == 200 and operation["result"]["failure_code"] == "provider_unavailable"
    assert await shop.container.payment_gateways()["stripe"].available() is False

    order = await shop.place(auth, USD_ORDER)
    await drained()
    payments, operations = await Payment.count(), await Operation.count()
    outbox, evidence = await OutboxMessage.count(), await EvidenceRecord.count()
    keys = await IdempotencyKey.count()
    status, content_type, problem = await pay(shop, auth, order["id"],
                                              {"payment_method": "pm_card_visa"})
    assert status == 503, problem
    assert content_type == "application/problem+json"
    assert problem["type"] == "/problems/provider-unavailable"
    assert problem["alternatives"] == ["sandbox"]
    assert problem["retryable"] is True and "stripe" in problem["detail"]

    # Nothing was recorded for the attempt.
    assert await Payment.count() == payments
    assert await Payment.count().where(Payment.order_id == order["id"]) == 0
    assert await Operation.count() == operations
    assert await OutboxMessage.count() == outbox
    assert await EvidenceRecord.count() == evidence
    assert await IdempotencyKey.count() == keys  # a retry with the same key is let in
    requested = await EvidenceRecord.select(EvidenceRecord.kind).where(
        EvidenceRecord.subject == f"order:{order['id']}")
    assert "payment.requested" not in {row["kind"] for row in requested}
    view = await shop.order(auth, order["id"])
    assert view["status"] == "pending_payment" and view["payments"] == []

    # The alternative offered takes the payment.
    status, _, operation = await pay(shop, auth, order["id"], {
        "payment_method": "pm_sandbox_success", "provider": problem["alternatives"][0]})
    assert status == 200 and operation["status"] == "succeeded", operation
    assert operation["result"]["status"] == "captured"
