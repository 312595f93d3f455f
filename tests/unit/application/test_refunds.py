"""Refunds, what is settled when a refund never succeeds, and catching up with providers."""

from __future__ import annotations

from datetime import timedelta

import pytest

from domain.commands import RefundPayment, VoidPayment
from domain.errors import InvalidTransition, ProviderUnavailable
from domain.orders import Order, OrderStatus
from domain.payments import EventType, Payment, PaymentStatus, PaymentUpdate, RefundTooLarge
from tests.fakes import DEPOSIT, THREE_DS, FakeGateway
from tests.unit.application.harness import MAX_ATTEMPTS, Mall


async def _refund(mall: Mall, order: Order, amount: int | None = None,
                  key: str = "k1") -> tuple[str, str | None]:
    return await mall.container.payments().request_refund(
        order.id, amount=amount, reason="customer returned it", key=key, admin_id="adm_1")


async def test_a_refund_request_reserves_the_amount_and_waits_in_the_outbox(
        mall: Mall) -> None:
    _, order = await mall.paid_order()
    refund_id, message_id = await _refund(mall, order, 10000)
    assert message_id is not None
    [command] = mall.db.commands(RefundPayment)
    assert (command.refund_id, command.amount) == (refund_id, 10000)
    assert message_id not in mall.queue.outbox  # the admin's request runs it at once
    [payment] = await mall.payments_of(order.id)
    assert (payment.refund_pending, payment.refundable) == (10000, 29000)
    [evidence] = mall.db.evidence("refund.requested")
    assert evidence.context["admin_id"] == "adm_1"


async def test_a_full_refund_refunds_the_order_and_tells_the_customer(mall: Mall) -> None:
    # A customer where analytics needs no opt-in (US), so the milestone is tracked.
    customer, order = await mall.paid_order(await mall.customer(country="US"))
    refund_id, message_id = await _refund(mall, order)
    assert message_id is not None
    await mall.container.outbox().run(message_id)
    await mall.run_outbox()
    [payment] = await mall.payments_of(order.id)
    assert (payment.status, payment.refunded) == (PaymentStatus.REFUNDED, 39000)
    assert (await mall.order(order.id)).status == OrderStatus.REFUNDED
    money = await mall.container.payments().money_of(order.id, refund_id)
    assert (money["refund_status"], money["net"]) == ("refunded", 0)
    assert "payment_refunded" in mall.notifier.templates(customer.email)
    assert "Order Refunded" in mall.analytics.names
    [(_, call)] = [c for c in mall.gateway.calls if c[0] == "refund"]
    assert call.idempotency_key == refund_id and call.amount.amount == 39000


async def test_a_partial_refund_leaves_the_rest_refundable(mall: Mall) -> None:
    _, order = await mall.paid_order()
    _, message_id = await _refund(mall, order, 9000)
    assert message_id is not None
    await mall.container.outbox().run(message_id)
    [payment] = await mall.payments_of(order.id)
    assert (payment.status, payment.refundable) == (PaymentStatus.PARTIALLY_REFUNDED, 30000)
    assert (await mall.order(order.id)).status == OrderStatus.PARTIALLY_REFUNDED


async def test_the_same_key_is_the_same_refund(mall: Mall) -> None:
    _, order = await mall.paid_order()
    first_id, _ = await _refund(mall, order, 5000, key="same")
    again_id, again_message = await _refund(mall, order, 5000, key="same")
    assert (again_id, again_message) == (first_id, None)
    assert len(mall.db.commands(RefundPayment)) == 1
    [payment] = await mall.payments_of(order.id)
    assert payment.refund_pending == 5000


async def test_running_a_refund_twice_pays_it_out_once(mall: Mall) -> None:
    _, order = await mall.paid_order()
    refund_id, message_id = await _refund(mall, order, 5000)
    assert message_id is not None
    payments = mall.container.payments()
    [payment] = await mall.payments_of(order.id)
    await payments.refund(payment.id, refund_id, 5000, "again")
    await payments.refund(payment.id, refund_id, 5000, "again")
    assert len([c for c in mall.gateway.calls if c[0] == "refund"]) == 1


async def test_more_than_what_is_refundable_is_refused(mall: Mall) -> None:
    _, order = await mall.paid_order()
    with pytest.raises(RefundTooLarge, match="exceeds"):
        await _refund(mall, order, 39001)
    assert mall.db.commands(RefundPayment) == []


async def test_an_unpaid_order_has_nothing_to_refund(mall: Mall) -> None:
    customer = await mall.customer()
    order = await mall.place(customer)
    with pytest.raises(InvalidTransition, match="nothing left to refund"):
        await _refund(mall, order)


async def test_a_refund_the_provider_refuses_frees_the_reserved_amount(mall: Mall) -> None:
    _, order = await mall.paid_order()
    mall.gateway.refuse.add("refund")
    refund_id, message_id = await _refund(mall, order, 9000)
    assert message_id is not None
    await mall.container.outbox().run(message_id)
    [payment] = await mall.payments_of(order.id)
    assert (payment.refund_pending, payment.refundable, payment.refunded) == (0, 39000, 0)
    money = await mall.container.payments().money_of(order.id, refund_id)
    assert money["refund_status"] == "failed"
    assert (await mall.order(order.id)).status == OrderStatus.PAID


async def _give_up_refund(mall: Mall, error: Exception) -> tuple[Order, str]:
    _, order = await mall.paid_order()
    mall.gateway.fail_calls = error
    refund_id, message_id = await _refund(mall, order, 9000)
    assert message_id is not None
    relay = mall.container.outbox()
    for _ in range(MAX_ATTEMPTS - 1):
        with pytest.raises(ProviderUnavailable):
            await relay.run(message_id)
    assert await relay.run(message_id) is True
    assert [m.status for m in mall.db.outbox() if m.id == message_id] == ["dead"]
    return order, refund_id


async def test_a_refund_the_provider_never_received_is_freed_for_another_try(
        mall: Mall) -> None:
    order, refund_id = await _give_up_refund(
        mall, ProviderUnavailable("connection refused", request_sent=False))
    [payment] = await mall.payments_of(order.id)
    assert (payment.refund_pending, payment.refundable) == (0, 39000)
    money = await mall.container.payments().money_of(order.id, refund_id)
    assert money["refund_status"] == "failed"
    assert mall.db.incidents("refund_unconfirmed") == []
    assert len(mall.db.incidents("job_failed")) == 1


async def test_a_refund_that_may_have_been_paid_stays_reserved_for_a_human(
        mall: Mall) -> None:
    order, refund_id = await _give_up_refund(
        mall, ProviderUnavailable("read timed out", request_sent=True))
    [payment] = await mall.payments_of(order.id)
    assert payment.refund_pending == 9000  # a second refund could pay twice
    [incident] = mall.db.incidents("refund_unconfirmed")
    assert incident["detail"]["refund_id"] == refund_id
    await mall.run_outbox()
    assert "critical" in [a.severity for a in mall.alerts.alerts]


# --- catching up with the providers ---------------------------------------------------------


async def test_reconciliation_applies_what_the_provider_says_of_a_stuck_payment(
        mall: Mall) -> None:
    _, order, _, payment = await mall.attempt(THREE_DS)
    assert payment.provider_reference == FakeGateway.reference(payment.id)
    mall.gateway.lookups[payment.provider_reference] = PaymentUpdate.of(
        EventType.CAPTURED, payment.provider_reference)

    payments = mall.container.payments()
    assert await payments.reconcile(older_than=timedelta(minutes=10)) == {
        "checked": 0, "changed": 0, "unreachable": 0}  # too recent to ask about
    mall.clock.advance(minutes=11)
    report = await payments.reconcile(older_than=timedelta(minutes=10))
    assert report == {"checked": 1, "changed": 1, "unreachable": 0}
    await mall.run_outbox()
    assert (await mall.order(order.id)).status == OrderStatus.PAID
    assert len(await mall.shipments_of(order.id)) == 2


async def test_reconciliation_counts_an_unreachable_provider_and_goes_on(mall: Mall) -> None:
    order = (await mall.attempt(THREE_DS)).order
    mall.gateway.lookup_error = ProviderUnavailable("down")
    mall.clock.advance(minutes=11)
    report = await mall.container.payments().reconcile(older_than=timedelta(minutes=10))
    assert report == {"checked": 1, "changed": 0, "unreachable": 1}
    [payment] = await mall.payments_of(order.id)
    assert payment.status == PaymentStatus.REQUIRES_ACTION


async def _expire(mall: Mall, token: str, older_than: timedelta,
                  *waits: dict[str, float]) -> tuple[Order, Payment]:
    """Pays with `token`, then lets each wait pass and expires abandoned payments: nothing
    expires until the last wait has passed, and then the payment does."""
    order = (await mall.attempt(token)).order
    payments = mall.container.payments()
    for waited, wait in enumerate(waits, start=1):
        mall.clock.advance(**wait)
        expired = await payments.expire_abandoned(older_than)
        assert expired == (1 if waited == len(waits) else 0)
    [payment] = await mall.payments_of(order.id)
    return order, payment


async def test_an_abandoned_three_d_secure_step_is_cancelled_here_and_at_the_provider(
        mall: Mall) -> None:
    order, payment = await _expire(mall, THREE_DS, timedelta(minutes=30), {}, {"minutes": 31})
    assert (payment.status, payment.failure_code) == (PaymentStatus.CANCELLED,
                                                       "authentication_abandoned")
    assert [v.reason for v in mall.db.commands(VoidPayment)] == ["abandoned"]
    assert (await mall.order(order.id)).status == OrderStatus.PENDING_PAYMENT


async def test_a_virtual_account_is_only_expired_past_its_own_deadline(mall: Mall) -> None:
    # The fake's account expires 2026-12-04 09:00: two hours is not enough, three days are.
    order, payment = await _expire(mall, DEPOSIT, timedelta(hours=1), {"hours": 2}, {"days": 3})
    assert (payment.status, payment.failure_code) == (PaymentStatus.CANCELLED,
                                                       "deposit_expired")
    # The deposit will never come: the order is called off.
    assert (await mall.order(order.id)).status == OrderStatus.CANCELLED
