"""What the settlement rules set off once money moves, through the bus on fakes: surplus
charges given back, partial captures, inquiries, chargebacks, reviews meeting 3-D Secure."""

from __future__ import annotations

import pytest

from domain.commands import CapturePayment, RefundPayment
from domain.customers import Customer
from domain.errors import ProviderUnavailable
from domain.orders import Order, OrderStatus
from domain.payments import PaymentStatus
from tests.fakes import NO_ANSWER, THREE_DS, FakeGateway
from tests.unit.application.harness import MAX_ATTEMPTS, Mall


async def _deliver(mall: Mall, event_id: str, kind: str, **fields: object) -> None:
    headers, body = mall.gateway.webhook(event_id, kind, **fields)
    await mall.container.webhooks().receive("sandbox", headers, body)
    await mall.run_inbox()
    await mall.run_outbox()


async def _timed_out_then_paid(mall: Mall) -> tuple[Customer, Order, str]:
    """The first attempt never got an answer and was given up; a second one paid."""
    customer = await mall.customer()
    order = await mall.place(customer)
    await mall.run_outbox()
    await mall.pay(customer, order, NO_ANSWER)
    [message_id] = mall.queue.outbox
    mall.queue.outbox.clear()
    relay = mall.container.outbox()
    for _ in range(MAX_ATTEMPTS - 1):
        with pytest.raises(ProviderUnavailable):
            await relay.run(message_id)
    await relay.run(message_id)
    [first] = await mall.payments_of(order.id)
    assert first.status == PaymentStatus.FAILED
    await mall.run_outbox()
    await mall.pay(customer, order)
    await mall.run_outbox()
    assert (await mall.order(order.id)).status == OrderStatus.PAID
    return customer, order, first.id


async def test_a_timed_out_attempt_that_charged_after_all_is_given_back(mall: Mall) -> None:
    _, order, first_id = await _timed_out_then_paid(mall)
    await _deliver(mall, "evt_late", "captured", reference=FakeGateway.reference(first_id),
                   payment_id=first_id)
    [incident] = mall.db.incidents("surplus_charge")
    assert incident["detail"]["payment_id"] == first_id
    [refund] = mall.db.commands(RefundPayment, status=None)
    assert (refund.payment_id, refund.amount, refund.reason) == (first_id, 39000, "duplicate")
    payments = {p.id: p for p in await mall.payments_of(order.id)}
    assert payments[first_id].status == PaymentStatus.REFUNDED
    # The order was paid once and stays so; the customer hears that the second charge
    # came back.
    assert (await mall.order(order.id)).status == OrderStatus.PAID
    money = await mall.container.payments().money_of(order.id)
    assert (money["captured"], money["refunded"], money["net"]) == (78000, 39000, 39000)
    assert mall.notifier.templates().count("payment_refunded") == 1


async def test_a_capture_of_less_than_the_total_does_not_pay_the_order(mall: Mall) -> None:
    _, order, _, payment = await mall.attempt(THREE_DS)
    await _deliver(mall, "evt_part", "captured", reference=payment.provider_reference,
                   amount=10000)
    [incident] = mall.db.incidents("partial_capture")
    assert (incident["detail"]["captured"], incident["detail"]["amount"]) == (10000, 39000)
    assert (await mall.order(order.id)).status != OrderStatus.PAID
    assert await mall.shipments_of(order.id) == []


async def test_a_card_holders_inquiry_calls_for_an_answer_and_takes_no_money(
        mall: Mall) -> None:
    _, order = await mall.paid_order()
    reference = FakeGateway.reference((await mall.payments_of(order.id))[0].id)
    await _deliver(mall, "evt_inq", "inquiry_opened", reference=reference, fact="inq_1")
    [incident] = mall.db.incidents("card_inquiry")
    assert incident["detail"]["evidence_bundle"].endswith("/dispute-bundle")
    [payment] = await mall.payments_of(order.id)
    assert (payment.status, payment.net) == (PaymentStatus.CAPTURED, 39000)
    assert (await mall.order(order.id)).status == OrderStatus.PAID
    assert [a.severity for a in mall.alerts.alerts if a.source == "sandbox"] == ["warning"]


async def test_a_lost_chargeback_leaves_the_order_dispute_lost_not_refunded(
        mall: Mall) -> None:
    customer, order = await mall.paid_order()
    reference = FakeGateway.reference((await mall.payments_of(order.id))[0].id)
    for event_id, kind in (("evt_o", "dispute_opened"), ("evt_l", "dispute_lost")):
        await _deliver(mall, event_id, kind, reference=reference, fact="dp_1", amount=39000)
    [payment] = await mall.payments_of(order.id)
    assert (payment.status, payment.net, payment.refunded) == (
        PaymentStatus.DISPUTE_LOST, 0, 0)
    assert (await mall.order(order.id)).status == OrderStatus.DISPUTE_LOST
    assert "payment_refunded" not in mall.notifier.templates(customer.email)


async def test_a_held_order_approved_during_3ds_is_captured_once_authorized(
        mall: Mall) -> None:
    mall.fraud.decision = "review"
    order = (await mall.attempt(THREE_DS)).order
    await mall.container.payments().decide_review(order.id, approve=True, admin_id="adm_1")
    await mall.run_outbox()
    assert mall.db.commands(CapturePayment, status=None) == []  # nothing held yet
    [payment] = await mall.payments_of(order.id)
    await _deliver(mall, "evt_auth", "authorized", reference=payment.provider_reference)
    [capture] = mall.db.commands(CapturePayment, status=None)
    assert capture.payment_id == payment.id
    [payment] = await mall.payments_of(order.id)
    assert payment.status == PaymentStatus.CAPTURED
    assert (await mall.order(order.id)).status == OrderStatus.PAID
    assert len(await mall.shipments_of(order.id)) == 2


async def _held_after_capture(mall: Mall) -> Order:
    """An order held for review, paid through a gateway that cannot hold money: captured."""
    mall.gateway.supports_manual_capture = False
    mall.fraud.decision = "review"
    order = (await mall.attempt()).order
    return order


async def test_a_held_order_whose_gateway_cannot_hold_is_refunded_in_full_when_rejected(
        mall: Mall) -> None:
    order = await _held_after_capture(mall)
    [payment] = await mall.payments_of(order.id)
    assert payment.status == PaymentStatus.CAPTURED  # the money was taken at once
    assert (await mall.order(order.id)).status == OrderStatus.ON_HOLD
    assert await mall.shipments_of(order.id) == []

    await mall.container.payments().decide_review(order.id, approve=False, admin_id="adm_1")
    [refund] = mall.db.commands(RefundPayment)
    assert (refund.amount, refund.reason) == (39000, "fraudulent")
    await mall.run_outbox()
    [payment] = await mall.payments_of(order.id)
    assert payment.status == PaymentStatus.REFUNDED
    assert (await mall.order(order.id)).status == OrderStatus.CANCELLED


async def test_money_that_could_not_be_given_back_goes_to_a_human(mall: Mall) -> None:
    order = await _held_after_capture(mall)
    mall.gateway.refuse.add("refund")
    await mall.container.payments().decide_review(order.id, approve=False, admin_id="adm_1")
    await mall.run_outbox()
    [incident] = mall.db.incidents("release_failed")
    assert incident["detail"]["refundable"] == 39000
    assert "critical" in [a.severity for a in mall.alerts.alerts]
