"""Delivery incidents through the bus on fakes, with a fake clock: a failed delivery opens
one, the customer's address fix and a reshipment close it, a refund goes through the
payment's refund flow, an ignored one escalates after its deadline; and what is refused."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

from application.delivery_incidents import DeliveryIncidents
from domain.commands import CreateShipment, RaiseAlert, RefundPayment
from domain.customers import Customer
from domain.delivery_incidents import IncidentStatus
from domain.errors import DomainError, InvalidTransition, NotFound
from domain.orders import Order, ShippingAddress
from domain.payments import PaymentStatus
from domain.shipments import DeliveryProblem, Shipment, ShipmentStatus
from tests.unit.application.harness import Mall, build_mall

NEW_ADDRESS = ShippingAddress("Ada Lovelace", "2 Jong-ro", "Unit 5", "Seoul", "03154", "KR")


async def _track(mall: Mall, shipment: Shipment, status: str, at: datetime,
                 detail: str = "") -> None:
    assert shipment.tracking_number is not None
    headers, body = mall.carrier.webhook(f"trk_{shipment.id}_{status}_{at}",
                                         shipment.tracking_number, status, at, detail)
    await mall.container.webhooks().receive(mall.carrier.name, headers, body)
    await mall.run_inbox()
    await mall.run_outbox()


async def _failed(mall: Mall, detail: str = "address not found"
                  ) -> tuple[Customer, Order, Shipment, dict[str, object]]:
    """A paid order whose first parcel the carrier could not deliver; its one incident."""
    customer, order = await mall.paid_order()
    shipment = (await mall.shipments_of(order.id))[0]
    await _track(mall, shipment, "exception", mall.clock.advance(hours=1), detail)
    [incident] = await incidents(mall).of_order(customer.id, order.id)
    return customer, order, shipment, incident


def incidents(mall: Mall) -> DeliveryIncidents:
    found: DeliveryIncidents = mall.container.delivery_incidents()
    return found


async def test_a_failed_delivery_opens_an_incident_that_asks_the_customer(mall: Mall) -> None:
    customer, _, shipment, incident = await _failed(mall)
    assert (incident["problem"], incident["owner"], incident["status"]) == (
        "address_problem", "customer", "awaiting_customer")
    assert incident["options"] == ["correct_address", "reschedule", "reshipment", "refund"]
    assert incident["shipment_id"] == shipment.id
    assert incident["deadline"] == (datetime.fromisoformat(str(incident["opened_at"]))
                                    + timedelta(hours=48)).isoformat()
    [told] = [n for n in mall.notifier.sent if n.template == "delivery_exception"]
    assert told.recipient == customer.email and told.params["incident_id"] == incident["id"]
    assert told.params["options"] == "correct_address, reschedule, reshipment, refund"
    [opened] = mall.db.evidence("incident.opened")
    assert opened.payload["owner"] == "customer"


async def test_the_customers_address_fix_and_a_reshipment_close_it(mall: Mall) -> None:
    customer, order, shipment, incident = await _failed(mall)
    service = incidents(mall)
    fixed = await service.correct_address(customer.id, order.id, str(incident["id"]),
                                          NEW_ADDRESS)
    assert (fixed["status"], fixed["address_corrected"]) == ("awaiting_customer", True)
    assert (await mall.order(order.id)).shipping_address == NEW_ADDRESS
    await mall.run_outbox()

    closed = await service.reship(customer.id, order.id, str(incident["id"]))
    await mall.run_outbox()
    assert (closed["status"], closed["resolution"], closed["options"]) == (
        "resolved", "reshipped", [])
    new_id = closed["steps"][-1]["shipment_id"]
    reshipped = next(s for s in await mall.shipments_of(order.id) if s.id == new_id)
    assert (reshipped.seller_id, reshipped.carrier, reshipped.lines) == (
        shipment.seller_id, shipment.carrier, shipment.lines)
    assert reshipped.status == ShipmentStatus.CREATED  # booked through the outbox
    booked = [c for c in mall.db.commands(CreateShipment, status="done")
              if isinstance(c, CreateShipment)]
    assert booked[-1].shipment_id == new_id
    assert mall.carrier.requests[-1].address == NEW_ADDRESS  # the corrected one
    to_seller = [n for n in mall.notifier.sent if n.template == "reshipment_booked_seller"]
    assert [n.recipient for n in to_seller] == [f"seller:{shipment.seller_id}"]

    # Every step is evidence; the address never is.
    kinds = [r.kind for r in mall.db.evidence() if r.kind.startswith("incident.")]
    assert kinds == ["incident.opened", "incident.address_corrected", "incident.reshipped"]
    written = json.dumps([r.payload for r in mall.db.evidence()], default=str)
    assert "Jong-ro" not in written and "03154" not in written

    # The new parcel arrives: the order is delivered despite the one that failed.
    await _track(mall, reshipped, "delivered", mall.clock.advance(hours=20))
    other = next(s for s in await mall.shipments_of(order.id)
                 if s.seller_id != shipment.seller_id)
    await _track(mall, other, "delivered", mall.clock.advance(hours=1))
    assert (await mall.order(order.id)).status.value == "delivered"


async def test_an_ignored_incident_escalates_after_its_deadline(mall: Mall) -> None:
    _, order, _, incident = await _failed(mall)
    service = incidents(mall)
    mall.clock.advance(hours=47, minutes=59)
    assert await service.escalate_overdue() == 0
    mall.clock.advance(minutes=1)
    assert await service.escalate_overdue() == 1
    await mall.run_outbox()
    [row] = [i for i in await service.listing("escalated", 10)]
    assert (row["id"], row["status"]) == (incident["id"], "escalated")
    alerts = [a for a in mall.alerts.alerts if "past its deadline" in a.summary]
    assert len(alerts) == 1 and alerts[0].detail["incident_id"] == incident["id"]
    [evidence] = mall.db.evidence("incident.escalated")
    assert evidence.subject == f"order:{order.id}"
    # Escalated once: the next runs leave it be.
    mall.clock.advance(hours=72)
    assert await service.escalate_overdue() == 0
    await mall.run_outbox()
    assert len([a for a in mall.alerts.alerts if "past its deadline" in a.summary]) == 1
    queued = [c for c in mall.db.commands(RaiseAlert, status=None)
              if isinstance(c, RaiseAlert) and "deadline" in c.summary]
    assert len(queued) == 1


async def test_a_deadline_comes_from_the_settings(tmp_path: Path) -> None:
    mall = build_mall(tmp_path, delivery_incident_deadlines={"address_problem": 2})
    try:
        _, _, _, incident = await _failed(mall)
        assert incident["deadline"] == (datetime.fromisoformat(str(incident["opened_at"]))
                                        + timedelta(hours=2)).isoformat()
        mall.clock.advance(hours=2)
        assert await incidents(mall).escalate_overdue() == 1
    finally:
        mall.container.reset_override()


async def test_a_refund_goes_through_the_payments_refund_flow(mall: Mall) -> None:
    customer, order, _, incident = await _failed(mall, "parcel damaged in transit")
    assert (incident["problem"], incident["owner"]) == ("damaged", "seller")
    closed = await incidents(mall).refund(customer.id, order.id, str(incident["id"]))
    assert (closed["status"], closed["resolution"]) == ("resolved", "refunded")
    await mall.run_outbox()
    [command] = mall.db.commands(RefundPayment, status=None)
    assert isinstance(command, RefundPayment)
    assert command.amount == 30000  # the damaged parcel's goods: 2 x 15000 of seller-a
    [payment] = await mall.payments_of(order.id)
    assert (payment.status, payment.refunded) == (PaymentStatus.PARTIALLY_REFUNDED, 30000)
    assert "payment_refunded" in mall.notifier.templates(customer.email)
    [evidence] = mall.db.evidence("incident.refunded")
    assert evidence.payload["refund_id"] == command.refund_id


async def test_a_korean_domestic_reshipment_asks_the_seller_for_a_new_parcel(
        mall: Mall) -> None:
    customer, order = await mall.paid_order()
    shipment = (await mall.shipments_of(order.id))[0]
    async with mall.container.uow()() as uow:
        shipment.carrier = "kr.cjlogistics"
        await uow.shipments.save(shipment)
        opened = await uow.incidents.open_delivery(
            order_id=order.id, shipment_id=shipment.id, seller_id=shipment.seller_id,
            problem=DeliveryProblem.LOST, reason="lost")
        await uow.commit()
    booked = len(mall.db.commands(CreateShipment, status=None))
    closed = await incidents(mall).reship(customer.id, order.id, opened.id)
    await mall.run_outbox()
    # The seller books it, not us.
    assert len(mall.db.commands(CreateShipment, status=None)) == booked
    new_id = closed["steps"][-1]["shipment_id"]
    reshipped = next(s for s in await mall.shipments_of(order.id) if s.id == new_id)
    assert (reshipped.carrier, reshipped.status) == ("kr.cjlogistics", ShipmentStatus.REQUESTED)
    [asked] = [n for n in mall.notifier.sent if n.template == "reshipment_handover_seller"]
    assert asked.recipient == f"seller:{shipment.seller_id}"
    assert asked.params["new_shipment_id"] == new_id


async def test_what_the_customer_cannot_do_is_refused_with_a_reason(mall: Mall) -> None:
    customer, order, _, incident = await _failed(mall, "parcel lost")
    service, incident_id = incidents(mall), str(incident["id"])
    stranger = await mall.customer()
    with pytest.raises(NotFound, match="no delivery incident"):
        await service.reship(stranger.id, order.id, incident_id)
    with pytest.raises(NotFound, match="not found"):
        await service.of_order(stranger.id, order.id)
    with pytest.raises(NotFound, match="no delivery incident inc_nope"):
        await service.reship(customer.id, order.id, "inc_nope")
    with pytest.raises(DomainError, match="lost does not offer reschedule"):
        await service.reschedule(customer.id, order.id, incident_id, date(2026, 12, 3))
    with pytest.raises(DomainError, match="lost does not offer correct_address"):
        await service.correct_address(customer.id, order.id, incident_id, NEW_ADDRESS)
    await service.reship(customer.id, order.id, incident_id)
    with pytest.raises(InvalidTransition, match="resolved already"):
        await service.refund(customer.id, order.id, incident_id)
    [row] = await service.of_order(customer.id, order.id)
    assert row["resolution"] == "reshipped"


async def test_a_reschedule_takes_a_date_the_carrier_can_still_keep(mall: Mall) -> None:
    customer, order, _, incident = await _failed(mall, "delivery attempted: no one home")
    service, incident_id = incidents(mall), str(incident["id"])
    today = mall.clock.now().date()
    with pytest.raises(DomainError, match="after today"):
        await service.reschedule(customer.id, order.id, incident_id, today)
    closed = await service.reschedule(customer.id, order.id, incident_id,
                                      today + timedelta(days=2))
    assert (closed["status"], closed["resolution"]) == ("resolved", "rescheduled")
    assert closed["steps"][-1]["delivery_date"] == (today + timedelta(days=2)).isoformat()
    await mall.run_outbox()
    assert any(n.template == "delivery_rescheduled_seller" for n in mall.notifier.sent)
    [row] = await service.of_order(customer.id, order.id)
    assert row["status"] == IncidentStatus.RESOLVED


async def test_a_parcel_delivered_after_all_resolves_its_incident_before_any_deadline(
        mall: Mall) -> None:
    customer, order, shipment, incident = await _failed(mall, "delivery attempted: not home")
    assert incident["problem"] == "failed_attempt"
    # The carrier says it again, then tries once more and delivers.
    await _track(mall, shipment, "out_for_delivery", mall.clock.advance(hours=2))
    await _track(mall, shipment, "exception", mall.clock.advance(hours=1),
                 "delivery attempted: not home")
    await _track(mall, shipment, "delivered", mall.clock.advance(hours=20))
    [closed] = await incidents(mall).of_order(customer.id, order.id)
    assert (closed["id"], closed["status"], closed["resolution"]) == (
        incident["id"], "resolved", "delivered")
    assert len(mall.db.evidence("incident.opened")) == 1
    assert len(mall.db.evidence("incident.delivered")) == 1
    mall.clock.advance(hours=72)
    assert await incidents(mall).escalate_overdue() == 0
