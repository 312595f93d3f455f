"""The order follows its money: fraud holds, refunds, chargebacks."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from domain.errors import InvalidTransition
from domain.events import OrderPaid
from domain.failures import FailureReason, explain, preferred_language
from domain.money import Money
from domain.orders import Order, OrderLine, OrderStatus, ShippingAddress
from domain.shipments import Shipment, ShipmentStatus

NOW = datetime(2026, 11, 26, tzinfo=UTC)
S = OrderStatus


def order() -> Order:
    return Order.place(
        order_id="o-1", customer_id="c-1", currency="KRW",
        lines=[OrderLine("SKU", "Mug", "seller-a", 1, Money(10000, "KRW"))],
        shipping_address=ShippingAddress("Kim", "1 Road", "", "Seoul", "06234", "KR"),
        carrier="sandbox-express", note="", now=NOW)


DELIVERED_PARCEL = Shipment("shp-1", "o-1", "seller-a", "sandbox-express",
                            status=ShipmentStatus.DELIVERED, tracking_number="T1")


def paid() -> Order:
    placed = order()
    placed.start_payment()
    placed.mark_paid()
    placed.events.clear()
    return placed


def held_then_paid() -> Order:
    """An order held for review whose payment went through."""
    held = order()
    held.hold_for_review()
    held.start_payment()
    held.mark_paid()
    return held


def assert_waits_for_the_capture(held: Order) -> None:
    """Held, with nothing to ship, until the capture is confirmed; then paid."""
    assert held.status == S.ON_HOLD
    assert not any(isinstance(e, OrderPaid) for e in held.events)
    held.capture_confirmed()
    assert held.status == S.PAID
    assert any(isinstance(e, OrderPaid) for e in held.events)


def test_a_held_order_waits_on_hold_and_pays_only_when_approved() -> None:
    held = held_then_paid()
    assert held.status == S.ON_HOLD
    assert not any(isinstance(e, OrderPaid) for e in held.events)
    held.approve(money_taken=False)  # only authorized: it waits for the capture
    assert held.status == S.ON_HOLD and not held.held_for_review
    assert_waits_for_the_capture(held)


def test_a_held_order_whose_money_was_taken_pays_on_approval() -> None:
    held = held_then_paid()
    held.approve(money_taken=True)
    assert held.status == S.PAID


def test_a_released_authorization_takes_a_held_order_back_to_payment() -> None:
    held = held_then_paid()
    held.payment_failed()
    assert held.status == S.PENDING_PAYMENT and held.held_for_review


def test_an_order_approved_before_its_money_arrives_is_paid_when_it_does() -> None:
    held = order()
    held.hold_for_review()
    held.approve(money_taken=False)
    assert held.status == S.PENDING_PAYMENT
    held.start_payment()
    held.mark_paid()
    assert held.status == S.PAID


def test_an_order_approved_during_3ds_waits_for_the_capture_of_its_authorization() -> None:
    held = order()
    held.hold_for_review()
    held.start_payment()  # the customer is at the bank's 3-D Secure page
    held.approve(money_taken=False)
    held.mark_paid(captured=False)  # 3-D Secure passed: only authorized, as asked
    assert_waits_for_the_capture(held)  # nothing ships yet


def test_a_rejected_order_is_cancelled_and_cannot_be_decided_twice() -> None:
    held = held_then_paid()
    held.reject()
    assert held.status == S.CANCELLED
    with pytest.raises(InvalidTransition):
        held.approve(money_taken=True)


def test_refunds_move_a_settled_order() -> None:
    settled = paid()
    settled.follow_money(captured=10000, refunded=3000, disputed=0)
    assert settled.status == S.PARTIALLY_REFUNDED
    settled.follow_money(captured=10000, refunded=10000, disputed=0)
    assert settled.status == S.REFUNDED


def test_a_dispute_and_its_outcome() -> None:
    settled = paid()
    settled.shipments_progressed([DELIVERED_PARCEL])
    settled.follow_money(captured=10000, refunded=0, disputed=10000)
    assert settled.status == S.DISPUTED
    # Won: back to where the shipments say it is.
    settled.follow_money(captured=10000, refunded=0, disputed=0,
                         shipments=[DELIVERED_PARCEL])
    assert settled.status == S.DELIVERED
    settled.follow_money(captured=10000, refunded=0, disputed=10000)
    settled.follow_money(captured=10000, refunded=0, disputed=0, dispute_lost=10000,
                         shipments=[DELIVERED_PARCEL])
    # Lost: the bank took the money back; that is not a refund anyone chose to give.
    assert settled.status == S.DISPUTE_LOST


def test_a_lost_dispute_stays_lost_whatever_is_refunded_after() -> None:
    settled = paid()
    settled.follow_money(captured=10000, refunded=2000, disputed=0)
    settled.follow_money(captured=10000, refunded=2000, disputed=8000)
    settled.follow_money(captured=10000, refunded=2000, disputed=0, dispute_lost=8000)
    assert settled.status == S.DISPUTE_LOST
    assert settled.is_settled
    settled.follow_money(captured=10000, refunded=10000, disputed=0, dispute_lost=8000)
    assert settled.status == S.DISPUTE_LOST


def test_money_moves_never_touch_an_unpaid_or_cancelled_order() -> None:
    unpaid = order()
    unpaid.follow_money(captured=10000, refunded=10000, disputed=0)
    assert unpaid.status == S.PENDING_PAYMENT
    unpaid.cancel()
    unpaid.follow_money(captured=10000, refunded=0, disputed=10000)
    assert unpaid.status == S.CANCELLED


@pytest.mark.parametrize("reason", list(FailureReason))
def test_every_failure_reason_is_explained_in_english_and_korean(reason: FailureReason) -> None:
    english, korean = explain(reason.value, "en"), explain(reason.value, "ko")
    assert english.reason == korean.reason == reason
    assert english.message and korean.message and english.message != korean.message
    assert any("\uac00" <= ch <= "\ud7a3" for ch in korean.message)  # Hangul
    assert english.contact in ("bank", "support", "none")


def test_unknown_codes_are_processing_errors_that_can_be_retried() -> None:
    explanation = explain("something_new")
    assert explanation.reason == FailureReason.PROCESSING_ERROR and explanation.retryable


@pytest.mark.parametrize(("header", "language"), [
    (None, "en"), ("", "en"), ("ko-KR,ko;q=0.9,en;q=0.8", "ko"), ("en-US,ko;q=0.5", "en"),
    ("fr-FR, ko;q=0.7", "ko"), ("ko;q=0.2, en;q=0.9", "en"), ("de", "en"), ("ko;q=bad", "en"),
])
def test_the_customers_language_comes_from_accept_language(header: str | None,
                                                           language: str) -> None:
    assert preferred_language(header) == language
