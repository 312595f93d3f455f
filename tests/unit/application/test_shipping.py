"""Fulfilment on fakes: booking parcels with the carrier and following their tracking."""

from __future__ import annotations

from datetime import datetime

import pytest

from domain.commands import CreateShipment, RaiseAlert, SendNotification
from domain.errors import NotFound, ProviderUnavailable
from domain.orders import Order, OrderStatus
from domain.shipments import Shipment, ShipmentStatus
from tests.unit.application.harness import Mall


async def _shipped(mall: Mall) -> tuple[Order, list[Shipment]]:
    # A customer where analytics needs no opt-in (US), so the milestones are tracked.
    _, order = await mall.paid_order(await mall.customer(country="US"))
    shipments = await mall.shipments_of(order.id)
    assert all(s.tracking_number for s in shipments)
    return order, shipments


async def _track(mall: Mall, shipment: Shipment, status: str, at: datetime,
                 detail: str = "", event_id: str | None = None) -> None:
    assert shipment.tracking_number is not None
    headers, body = mall.carrier.webhook(event_id or f"trk_{shipment.id}_{status}_{at}",
                                         shipment.tracking_number, status, at, detail)
    await mall.container.webhooks().receive(mall.carrier.name, headers, body)
    await mall.run_inbox()
    await mall.run_outbox()


async def test_each_sellers_parcel_is_booked_with_its_own_lines(mall: Mall) -> None:
    order, shipments = await _shipped(mall)
    by_seller = {r.shipment_id: r for r in mall.carrier.requests}
    for shipment in shipments:
        request = by_seller[shipment.id]
        assert request.idempotency_key == shipment.id
        assert [(i["sku"], i["quantity"], i["description"]) for i in request.items] == [
            (line.sku, line.quantity, line.title) for line in order.lines_of(shipment.seller_id)]
        # Declared at the line's value, in major units: what customs abroad asks for.
        assert [(i["value"], i["currency"]) for i in request.items] == [
            (str((line.unit_price * line.quantity).decimal), order.currency)
            for line in order.lines_of(shipment.seller_id)]
        assert request.address == order.shipping_address
        assert shipment.status == ShipmentStatus.CREATED
        assert shipment.tracking_number == f"TRK-{shipment.id}"
    assert len(mall.db.evidence("shipment.created")) == 2


async def test_booking_again_books_nothing_new(mall: Mall) -> None:
    _, shipments = await _shipped(mall)
    fulfilment = mall.container.fulfilment()
    await fulfilment.create_shipment(shipments[0].id)
    assert len(mall.carrier.requests) == 2


async def test_a_carrier_that_does_not_answer_is_retried_and_books_once_it_does(
        mall: Mall) -> None:
    mall.carrier.error = ProviderUnavailable("carrier down")
    customer = await mall.customer()
    order = await mall.place(customer)
    await mall.pay(customer, order)
    with pytest.raises(ProviderUnavailable):
        await mall.run_outbox()
    assert all(s.status == ShipmentStatus.REQUESTED for s in await mall.shipments_of(order.id))
    mall.carrier.error = None
    relay = mall.container.outbox()
    for message in mall.db.outbox("pending"):
        await relay.run(message.id)
    await mall.run_outbox()
    shipments = await mall.shipments_of(order.id)
    assert [s.status for s in shipments] == [ShipmentStatus.CREATED] * 2
    assert len(mall.db.commands(CreateShipment, status="done")) == 2


async def test_a_parcel_on_its_way_ships_the_order_and_tells_the_customer(mall: Mall) -> None:
    order, shipments = await _shipped(mall)
    await _track(mall, shipments[0], "in_transit", mall.clock.advance(hours=1))
    shipment = (await mall.shipments_of(order.id))[0]
    assert (shipment.status, shipment.history) == (ShipmentStatus.IN_TRANSIT, ["in_transit"])
    # The other seller's parcel has not left yet.
    assert (await mall.order(order.id)).status == OrderStatus.PARTIALLY_SHIPPED
    notified = [c for c in mall.db.commands(SendNotification, status="done")
                if c.template == "shipment_in_transit"]
    assert [c.params["shipment_id"] for c in notified] == [shipment.id]
    [evidence] = mall.db.evidence("shipment.transition")
    assert evidence.payload["status"] == "in_transit"


async def test_an_order_is_delivered_once_every_parcel_arrived(mall: Mall) -> None:
    order, shipments = await _shipped(mall)
    await _track(mall, shipments[0], "delivered", mall.clock.advance(hours=1))
    assert (await mall.order(order.id)).status == OrderStatus.PARTIALLY_DELIVERED
    assert "Order Delivered" not in mall.analytics.names
    await _track(mall, shipments[1], "delivered", mall.clock.advance(hours=1))
    assert (await mall.order(order.id)).status == OrderStatus.DELIVERED
    assert mall.notifier.templates().count("order_delivered") == 1
    assert mall.analytics.names.count("Order Delivered") == 1


async def test_an_older_tracking_event_arriving_late_changes_nothing(mall: Mall) -> None:
    order, shipments = await _shipped(mall)
    early, late = mall.clock.advance(hours=1), mall.clock.advance(hours=2)
    await _track(mall, shipments[0], "out_for_delivery", late)
    await _track(mall, shipments[0], "in_transit", early)
    shipment = (await mall.shipments_of(order.id))[0]
    assert shipment.status == ShipmentStatus.OUT_FOR_DELIVERY
    assert [m.status for m in mall.db.inbox()] == ["applied", "no_change"]


async def test_a_delivered_parcel_stays_delivered(mall: Mall) -> None:
    order, shipments = await _shipped(mall)
    await _track(mall, shipments[0], "delivered", mall.clock.advance(hours=1))
    await _track(mall, shipments[0], "exception", mall.clock.advance(hours=1), "lost")
    assert (await mall.shipments_of(order.id))[0].status == ShipmentStatus.DELIVERED
    assert mall.db.incidents("delivery_exception") == []


async def test_a_delivery_exception_opens_an_incident_and_asks_customer_and_seller_to_act(
        mall: Mall) -> None:
    order, shipments = await _shipped(mall)
    customer_email = next(n.recipient for n in mall.notifier.sent
                          if n.template == "order_paid")
    await _track(mall, shipments[0], "exception", mall.clock.advance(hours=1),
                 "address not found")
    [incident] = mall.db.incidents("delivery_exception")
    assert incident["subject"] == f"order:{order.id}"
    assert incident["detail"]["reason"] == "address not found"
    to_customer = [n for n in mall.notifier.sent if n.template == "delivery_exception"]
    assert [n.recipient for n in to_customer] == [customer_email]
    assert to_customer[0].params["incident_id"] == incident["id"]
    to_seller = [n for n in mall.notifier.sent if n.template == "delivery_exception_seller"]
    assert [n.recipient for n in to_seller] == [f"seller:{shipments[0].seller_id}"]
    [alert] = [c for c in mall.db.commands(RaiseAlert, status="done")
               if c.source == "logistics"]
    assert (alert.severity, alert.detail["incident_id"]) == ("warning", incident["id"])
    assert [a.source for a in mall.alerts.alerts] == ["logistics"]
    assert len(mall.db.evidence("incident.opened")) == 1


async def test_a_parcel_sent_again_after_an_exception_moves_on(mall: Mall) -> None:
    order, shipments = await _shipped(mall)
    await _track(mall, shipments[0], "exception", mall.clock.advance(hours=1), "not home")
    await _track(mall, shipments[0], "in_transit", mall.clock.advance(hours=1))
    assert (await mall.shipments_of(order.id))[0].status == ShipmentStatus.IN_TRANSIT


async def test_tracking_for_a_parcel_we_never_booked_is_set_aside_after_the_grace_period(
        mall: Mall) -> None:
    headers, body = mall.carrier.webhook("trk_x", "TRK-unknown", "in_transit",
                                         mall.clock.now())
    await mall.container.webhooks().receive(mall.carrier.name, headers, body)
    [inbox_id] = mall.queue.inbox
    webhooks = mall.container.webhooks()
    with pytest.raises(NotFound, match="no shipment"):
        await webhooks.process(inbox_id)
    mall.clock.advance(minutes=16)
    await webhooks.process(inbox_id)
    assert [m.status for m in mall.db.inbox()] == ["unmatched"]
    assert len(mall.db.incidents("webhook_unmatched")) == 1


async def test_a_carrier_event_that_is_not_tracking_is_ignored(mall: Mall) -> None:
    headers, body = mall.carrier.webhook("evt_1", "TRK-1", "in_transit", mall.clock.now(),
                                         kind="account.updated")
    await mall.container.webhooks().receive(mall.carrier.name, headers, body)
    await mall.run_inbox()
    assert [m.status for m in mall.db.inbox()] == ["ignored"]
