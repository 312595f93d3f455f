"""Paying for an order on fakes: starting, authorizing through the bus, fraud holds, KYC."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest

from application.payments.checkout import IdentityVerificationRequired, MethodCannotAwaitReview
from domain.commands import (
    AuthorizePayment,
    CapturePayment,
    CreateShipment,
    RaiseAlert,
    SendNotification,
    VoidPayment,
)
from domain.customers import Customer
from domain.errors import DomainError, InvalidTransition, NotFound, ProviderUnavailable
from domain.orders import Order, OrderStatus
from domain.payments import PaymentStatus
from tests.fakes import DECLINED, DEPOSIT, NO_ANSWER, THREE_DS, UNREACHABLE, FakeCustomers
from tests.unit.application.harness import MAX_ATTEMPTS, Mall, build_mall


async def test_starting_a_payment_records_it_and_queues_its_authorization(mall: Mall) -> None:
    customer = await mall.customer()
    order = await mall.place(customer)
    started = await mall.pay(customer, order)

    assert not started.final and started.operation["status"] == "pending"
    [payment] = await mall.payments_of(order.id)
    assert (payment.id, payment.status, payment.amount.amount) == (
        started.payment_id, PaymentStatus.PENDING, 39000)
    assert payment.idempotency_key == payment.id
    assert (await mall.order(order.id)).status == OrderStatus.PAYMENT_PROCESSING
    assert mall.db.commands(AuthorizePayment) == [
        AuthorizePayment(payment.id, started.operation["id"], "tok_visa")]
    assert [e.kind for e in mall.db.evidence("payment.requested")] == ["payment.requested"]
    assert mall.gateway.requests == []  # nothing is sent before the commit


async def test_the_authorization_is_handed_to_the_workers_after_the_commit(mall: Mall) -> None:
    customer = await mall.customer()
    order = await mall.place(customer)
    mall.queue.outbox.clear()
    await mall.pay(customer, order)
    [message] = [m for m in mall.db.outbox() if m.topic == "AuthorizePayment"]
    assert mall.queue.outbox == [message.id]


async def test_a_captured_card_pays_the_order_and_requests_one_shipment_per_seller(
        mall: Mall) -> None:
    # A customer where analytics needs no opt-in (US), so the milestone is tracked.
    customer, order = await mall.paid_order(await mall.customer(country="US"))
    [payment] = await mall.payments_of(order.id)
    assert payment.status == PaymentStatus.CAPTURED
    assert (await mall.order(order.id)).status == OrderStatus.PAID
    shipments = await mall.shipments_of(order.id)
    assert sorted(s.seller_id for s in shipments) == ["seller-a", "seller-b"]
    created = mall.db.commands(CreateShipment, status="done")
    assert sorted(c.shipment_id for c in created) == sorted(s.id for s in shipments)
    assert "order_paid" in mall.notifier.templates(customer.email)
    assert "Order Completed" in mall.analytics.names


async def test_the_gateway_is_asked_once_with_a_pseudonymous_customer_and_the_attempts_key(
        mall: Mall) -> None:
    customer, order = await mall.paid_order()
    [request] = mall.gateway.requests
    [payment] = await mall.payments_of(order.id)
    assert request.idempotency_key == payment.id
    assert request.capture is True
    assert request.amount.amount == 39000 and request.amount.currency == "KRW"
    assert customer.id not in request.customer_reference
    assert customer.email not in request.customer_reference


async def test_the_customers_operation_ends_with_the_outcome(mall: Mall) -> None:
    customer, _, started, _ = await mall.attempt()
    view = await mall.operation(customer, started)
    assert view["status"] == "succeeded"
    assert view["result"]["status"] == "captured"
    assert view["message"].startswith("Payment succeeded")


async def test_a_declined_card_fails_the_payment_and_lets_the_customer_pay_again(
        mall: Mall) -> None:
    customer, order, started, payment = await mall.attempt(DECLINED)
    assert (payment.status, payment.failure_code) == (PaymentStatus.FAILED, "declined")
    assert (await mall.order(order.id)).status == OrderStatus.PENDING_PAYMENT
    view = await mall.operation(customer, started)
    assert view["status"] == "failed"
    assert view["result"]["failure"]["reason"] == "declined"
    assert set(view["result"]["failure"]["message"]) == {"en", "ko"}
    assert "payment_failed" in mall.notifier.templates(customer.email)
    assert await mall.shipments_of(order.id) == []

    await mall.pay(customer, order)
    await mall.run_outbox()
    assert (await mall.order(order.id)).status == OrderStatus.PAID


async def test_a_gateway_that_never_got_the_request_fails_the_attempt_at_once(
        mall: Mall) -> None:
    # The outbox runs once, with no retry: nothing reached the provider.
    customer, _, started, payment = await mall.attempt(UNREACHABLE)
    assert (payment.status, payment.failure_code) == (PaymentStatus.FAILED,
                                                       "provider_unavailable")
    view = await mall.operation(customer, started)
    assert view["result"]["alternatives"] == []
    assert [m.status for m in mall.db.outbox() if m.topic == "AuthorizePayment"] == ["done"]


async def test_an_authorization_without_an_answer_is_retried_then_given_up(
        mall: Mall) -> None:
    customer = await mall.customer()
    order = await mall.place(customer)
    await mall.run_outbox()
    await mall.pay(customer, order, NO_ANSWER)
    mall.queue.outbox.clear()  # this test plays the worker's retries itself
    [message] = [m for m in mall.db.outbox() if m.topic == "AuthorizePayment"]
    relay = mall.container.outbox()
    for attempt in range(1, MAX_ATTEMPTS):
        with pytest.raises(ProviderUnavailable):
            await relay.run(message.id)
        [payment] = await mall.payments_of(order.id)
        assert payment.status == PaymentStatus.PROCESSING  # it may still come through
        assert [m.attempts for m in mall.db.outbox() if m.id == message.id] == [attempt]

    assert await relay.run(message.id) is True  # the last attempt settles it
    [payment] = await mall.payments_of(order.id)
    assert (payment.status, payment.failure_code) == (PaymentStatus.FAILED,
                                                       "provider_unavailable")
    assert [m.status for m in mall.db.outbox() if m.id == message.id] == ["dead"]
    [incident] = mall.db.incidents("job_failed")
    assert incident["subject"] == f"outbox:{message.id}"
    assert [a.severity for a in mall.alerts.alerts] == ["critical"]
    assert len(mall.gateway.requests) == MAX_ATTEMPTS  # the same key every time
    assert {r.idempotency_key for r in mall.gateway.requests} == {payment.id}


async def test_three_d_secure_waits_for_the_customer_with_the_banks_next_step(
        mall: Mall) -> None:
    customer, order, started, payment = await mall.attempt(THREE_DS)
    assert payment.status == PaymentStatus.REQUIRES_ACTION
    assert payment.next_action == {"redirect_url": "https://bank.test/3ds"}
    view = await mall.operation(customer, started)
    assert view["result"]["next_action"] == {"redirect_url": "https://bank.test/3ds"}
    assert (await mall.order(order.id)).status == OrderStatus.PAYMENT_PROCESSING
    assert await mall.shipments_of(order.id) == []


async def test_a_virtual_account_waits_for_the_deposit_and_tells_the_customer(
        mall: Mall) -> None:
    customer, order, _, payment = await mall.attempt(DEPOSIT)
    assert payment.status == PaymentStatus.AWAITING_DEPOSIT
    assert payment.method == "virtual_account"
    assert payment.deposit_account is not None
    assert (await mall.order(order.id)).status == OrderStatus.AWAITING_DEPOSIT
    assert "awaiting_deposit" in mall.notifier.templates(customer.email)


async def test_an_order_can_only_be_paid_while_it_waits_for_payment(mall: Mall) -> None:
    customer, order = await mall.paid_order()
    with pytest.raises(InvalidTransition, match="pending payment"):
        await mall.pay(customer, order)
    assert len(await mall.payments_of(order.id)) == 1


async def test_a_payment_in_progress_cannot_be_started_twice(mall: Mall) -> None:
    customer = await mall.customer()
    order = await mall.place(customer)
    await mall.pay(customer, order)
    with pytest.raises(InvalidTransition):
        await mall.pay(customer, order)
    assert len(mall.db.commands(AuthorizePayment)) == 1


async def test_nobody_pays_for_another_customers_order(mall: Mall) -> None:
    owner, stranger = await mall.customer(), await mall.customer()
    order = await mall.place(owner)
    with pytest.raises(NotFound):
        await mall.pay(stranger, order)
    assert await mall.payments_of(order.id) == []


async def test_a_gateway_whose_circuit_is_open_is_refused_before_anything_is_stored(
        mall: Mall) -> None:
    customer = await mall.customer()
    order = await mall.place(customer)
    mall.gateway.up = False
    with pytest.raises(ProviderUnavailable) as refused:
        await mall.pay(customer, order)
    assert refused.value.request_sent is False
    assert "nothing was sent or charged" in refused.value.detail
    assert await mall.payments_of(order.id) == []
    assert (await mall.order(order.id)).status == OrderStatus.PENDING_PAYMENT


async def test_a_provider_the_order_cannot_use_is_refused(mall: Mall) -> None:
    customer = await mall.customer()
    order = await mall.place(customer)
    with pytest.raises(DomainError, match="cannot take this payment"):
        await mall.pay(customer, order, provider="toss")


# --- fraud screening -------------------------------------------------------------------------


async def _held(mall: Mall, token: str = "tok_visa") -> tuple[Customer, Order]:
    mall.fraud.decision, mall.fraud.score, mall.fraud.reasons = "review", 0.7, ["new account"]
    customer, order, _, _ = await mall.attempt(token)
    return customer, order


async def test_an_order_held_for_review_is_only_authorized_and_nothing_ships(
        mall: Mall) -> None:
    _, order = await _held(mall)
    [request] = mall.gateway.requests
    assert request.capture is False
    [payment] = await mall.payments_of(order.id)
    assert (payment.status, payment.capture) == (PaymentStatus.AUTHORIZED, "manual")
    stored = await mall.order(order.id)
    assert stored.status == OrderStatus.ON_HOLD and stored.held_for_review
    assert await mall.shipments_of(order.id) == []
    [review] = await mall.container.payments().pending_reviews()
    assert (review.order_id, review.score, review.reasons) == (
        order.id, 0.7, ["new account"])
    alerts = mall.db.commands(RaiseAlert, status="done")
    assert [a.source for a in alerts] == ["fraud-screen"]
    assert [e.kind for e in mall.db.evidence("fraud.assessment")] == ["fraud.assessment"]


async def test_approving_a_held_order_captures_the_money_and_ships_it(mall: Mall) -> None:
    _, order = await _held(mall)
    review = await mall.container.payments().decide_review(
        order.id, approve=True, admin_id="adm_1", note="known customer")
    assert (review.status, review.decided_by, review.note) == (
        "approved", "adm_1", "known customer")
    assert [c.payment_id for c in mall.db.commands(CapturePayment)] != []
    await mall.run_outbox()
    [payment] = await mall.payments_of(order.id)
    assert payment.status == PaymentStatus.CAPTURED
    assert (await mall.order(order.id)).status == OrderStatus.PAID
    assert len(await mall.shipments_of(order.id)) == 2
    assert [a for a, _ in mall.gateway.calls] == ["capture"]


async def test_rejecting_a_held_order_releases_the_hold_and_cancels_it(mall: Mall) -> None:
    customer, order = await _held(mall)
    await mall.container.payments().decide_review(
        order.id, approve=False, admin_id="adm_1")
    [void] = mall.db.commands(VoidPayment)
    assert void.reason == "fraudulent"
    await mall.run_outbox()
    [payment] = await mall.payments_of(order.id)
    assert payment.status == PaymentStatus.CANCELLED
    assert (await mall.order(order.id)).status == OrderStatus.CANCELLED
    assert "order_cancelled" in mall.notifier.templates(customer.email)
    assert await mall.shipments_of(order.id) == []


async def test_the_same_decision_twice_is_one_decision_and_a_change_of_mind_is_refused(
        mall: Mall) -> None:
    _, order = await _held(mall)
    payments = mall.container.payments()
    await payments.decide_review(order.id, approve=True, admin_id="adm_1")
    again = await payments.decide_review(order.id, approve=True, admin_id="adm_2")
    assert again.decided_by == "adm_1"
    assert len(mall.db.commands(CapturePayment)) == 1
    with pytest.raises(InvalidTransition, match="already approved"):
        await payments.decide_review(order.id, approve=False, admin_id="adm_2")


async def test_a_held_order_cannot_be_paid_by_bank_transfer(mall: Mall) -> None:
    mall.fraud.decision = "review"
    customer = await mall.customer()
    order = await mall.place(customer)
    with pytest.raises(MethodCannotAwaitReview):
        await mall.pay(customer, order, DEPOSIT)
    assert await mall.payments_of(order.id) == []
    assert (await mall.order(order.id)).status == OrderStatus.PENDING_PAYMENT
    # The assessment stays on record.
    assert len(mall.db.evidence("fraud.assessment")) == 1


async def test_a_rejected_screening_refuses_the_payment_and_keeps_the_assessment(
        mall: Mall) -> None:
    mall.fraud.decision, mall.fraud.score = "reject", 0.99
    customer = await mall.customer()
    order = await mall.place(customer)
    with pytest.raises(DomainError):
        await mall.pay(customer, order)
    assert await mall.payments_of(order.id) == []
    [assessment] = mall.db.evidence("fraud.assessment")
    assert assessment.payload["decision"] == "reject"


async def test_the_screen_is_given_the_customers_history_and_failures(mall: Mall) -> None:
    customer = await mall.customer()
    first = await mall.place(customer)
    await mall.pay(customer, first, DECLINED)
    await mall.run_outbox()
    mall.clock.advance(minutes=1)
    second = await mall.place(customer)
    await mall.pay(customer, second, billing_country="KR", ip_country="US")
    _, signals = mall.fraud.screened[-1]
    assert signals.failed_payments_24h == 1
    assert {o.id for o in signals.customer_history} == {first.id, second.id}
    assert (signals.billing_country, signals.ip_country) == ("KR", "US")


async def test_the_fraud_model_is_refitted_on_paid_orders_at_most_once_an_hour(
        mall: Mall) -> None:
    await mall.paid_order()
    payments = mall.container.payments()
    assert await payments.refresh_fraud_model(force=True) is True
    assert mall.fraud.learned[-1] == [("KRW", 39000)]
    assert await payments.refresh_fraud_model() is False
    mall.clock.advance(minutes=61)
    assert await payments.refresh_fraud_model() is True


async def _soon(condition: Callable[[], bool]) -> bool:
    """Whether `condition` holds once the tasks running beside have had their turns."""
    for _ in range(50):
        if condition():
            return True
        await asyncio.sleep(0)
    return condition()


async def test_a_payment_waits_for_the_first_model_but_never_for_a_refit(
        mall: Mall) -> None:
    customer, _ = await mall.paid_order()
    assert len(mall.fraud.learned) == 1  # fitted before the first payment was screened
    mall.clock.advance(minutes=61)
    mall.fraud.learning = asyncio.Event()

    await mall.pay(customer, await mall.place(customer))  # screened while the refit waits

    assert len(mall.fraud.learned) == 1 and len(mall.fraud.screened) == 2
    mall.fraud.learning.set()
    assert await _soon(lambda: len(mall.fraud.learned) == 2)  # the refit beside it ended
    assert mall.fraud.learned[-1] == [("KRW", 39000)]
    assert await mall.container.payments().refresh_fraud_model() is False  # fresh again


async def test_a_refit_that_fails_leaves_the_model_screening_and_is_tried_again(
        mall: Mall, caplog: pytest.LogCaptureFixture) -> None:
    customer, _ = await mall.paid_order()
    mall.clock.advance(minutes=61)
    mall.fraud.refit_fails = True

    started = await mall.pay(customer, await mall.place(customer))

    assert started.payment_id and len(mall.fraud.screened) == 2
    assert await _soon(lambda: "could not be refitted" in caplog.text)
    mall.fraud.refit_fails = False
    assert await mall.container.payments().refresh_fraud_model() is True


# --- identity checks (KYC) -------------------------------------------------------------------


async def test_a_large_order_needs_a_verified_identity_before_payment(mall: Mall) -> None:
    customer = await mall.customer()
    big = [{"sku": "TV", "title": "Television", "seller_id": "seller-a", "quantity": 1,
            "unit_price": 10_000_001}]
    order = await mall.place(customer, lines=big)
    with pytest.raises(IdentityVerificationRequired, match="verified identity"):
        await mall.pay(customer, order)
    assert await mall.payments_of(order.id) == []

    await mall.container.accounts().mark_identity_verified(customer.id, "adm_1")
    await mall.pay(customer, order)
    await mall.run_outbox()
    assert (await mall.order(order.id)).status == OrderStatus.PAID
    assert [e.kind for e in mall.db.evidence("kyc.verified")] == ["kyc.verified"]


async def test_the_customer_the_request_signed_in_is_not_read_again(
        mall: Mall, monkeypatch: pytest.MonkeyPatch) -> None:
    customer = await mall.customer()
    order = await mall.place(customer)
    read: list[str] = []
    get = FakeCustomers.get

    async def counted(self: FakeCustomers, customer_id: str) -> Customer | None:
        read.append(customer_id)
        return await get(self, customer_id)

    monkeypatch.setattr(FakeCustomers, "get", counted)
    payments = mall.container.payments()
    await payments.start(customer_id=customer.id, order_id=order.id, method_token="tok_visa",
                         signed_in=customer)
    assert read == []
    # Another customer's record is never taken for this one's.
    other = await mall.customer()
    second = await mall.place(customer)
    await payments.start(customer_id=customer.id, order_id=second.id,
                         method_token="tok_visa", signed_in=other)
    assert read == [customer.id]


async def test_notifications_go_to_the_customers_address_and_are_logged_without_it(
        mall: Mall) -> None:
    customer, order = await mall.paid_order()
    [paid] = [n for n in mall.notifier.sent if n.template == "order_paid"]
    assert paid.recipient == customer.email and paid.params == {"order_id": order.id}
    logged = [row for row in mall.db.rows("notifications") if row["template"] == "order_paid"]
    assert logged and all(customer.email not in str(row) for row in logged)
    assert all(isinstance(c, SendNotification) for c in mall.db.commands(SendNotification,
                                                                         status="done"))


# --- the customer's wait -------------------------------------------------------------------


async def test_a_quick_provider_answers_the_customer_in_the_same_request(
        tmp_path: Path) -> None:
    mall = build_mall(tmp_path, payment_sync_wait_seconds=2)
    mall.queue.work_inline(mall.container.outbox().run)  # as the embedded worker does
    customer = await mall.customer()
    order = await mall.place(customer)
    started = await mall.pay(customer, order)
    assert started.final
    assert (started.operation["status"], started.operation["result"]["status"]) == (
        "succeeded", "captured")
    assert mall.queue.failures == []


async def test_a_declined_card_is_a_final_answer_in_the_same_request(tmp_path: Path) -> None:
    mall = build_mall(tmp_path, payment_sync_wait_seconds=2)
    mall.queue.work_inline(mall.container.outbox().run)
    customer = await mall.customer()
    order = await mall.place(customer)
    started = await mall.pay(customer, order, DECLINED)
    assert started.final and started.operation["status"] == "failed"
    assert started.operation["result"]["failure_code"] == "declined"
