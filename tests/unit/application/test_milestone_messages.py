"""The customer hears of each milestone: order placed, held for a check, each parcel's news
with its carrier and tracking number."""

from __future__ import annotations

from domain.commands import SendNotification
from tests.unit.application.harness import Mall


def _asked(mall: Mall, template: str) -> list[SendNotification]:
    return [c for c in mall.db.commands(SendNotification, status=None)
            if isinstance(c, SendNotification) and c.template == template]


async def test_a_placed_order_is_confirmed_with_its_total(mall: Mall) -> None:
    customer = await mall.customer()
    order = await mall.place(customer)
    [placed] = _asked(mall, "order_placed")
    assert placed.customer_id == customer.id
    assert placed.params == {"order_id": order.id, "amount_minor": order.total.amount,
                             "currency": "KRW"}


async def test_a_held_order_tells_the_customer_without_the_reasons(mall: Mall) -> None:
    mall.fraud.decision, mall.fraud.reasons = "review", ["new account"]  # a human decides
    customer = await mall.customer()
    order = await mall.place(customer)
    await mall.pay(customer, order)
    await mall.run_outbox()
    [held] = _asked(mall, "order_held")
    assert held.params == {"order_id": order.id}


async def test_parcel_news_names_the_carrier_and_the_tracking_number(mall: Mall) -> None:
    _, order = await mall.paid_order()
    shipments = await mall.shipments_of(order.id)
    created = _asked(mall, "shipment_created")
    assert sorted((c.params["carrier"], c.params["tracking_number"]) for c in created) == sorted(
        (s.carrier, s.tracking_number) for s in shipments)
