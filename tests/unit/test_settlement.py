"""The settlement rules: whatever order a provider's facts arrive in, and however often, the
order ends in the same state, is told once, and the money follows once."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from domain import events as ev
from domain.money import Money
from domain.orders import Order, OrderLine, OrderStatus, ShippingAddress
from domain.payments import EventType, Payment, PaymentEvent, PaymentUpdate
from domain.settlement import Before, FollowUp, money_moved, needs_other_payments, settle

E = EventType
TOTAL = 30000


def new_order(*, held: bool = False) -> Order:
    order = Order.place(
        order_id="ord_1", customer_id="cus_1", currency="KRW",
        lines=[OrderLine("TEA", "Tea", "seller-a", 2, Money(TOTAL // 2, "KRW"))],
        shipping_address=ShippingAddress("Ada", "1 Sejong-daero", "", "Seoul", "04524", "KR"),
        carrier="sandbox-express", note="", now=datetime(2026, 1, 1, tzinfo=UTC))
    order.events.clear()
    order.start_payment()
    if held:
        order.hold_for_review()
    return order


def new_payment(payment_id: str = "pay_1", method: str = "card") -> Payment:
    return Payment(id=payment_id, order_id="ord_1", customer_id="cus_1", provider="sandbox",
                   amount=Money(TOTAL, "KRW"), method=method, idempotency_key=payment_id)


class Story:
    """Facts delivered one by one, each settled as the application does."""

    def __init__(self, order: Order, payment: Payment, *, another_secured: bool = False) -> None:
        self.order, self.payment, self.another_secured = order, payment, another_secured
        self.follow_ups: list[FollowUp] = []
        self.events: list[ev.Event] = []

    def deliver(self, fact: PaymentEvent, failure_code: str | None = None) -> None:
        before = Before.of(self.payment)
        if not self.payment.apply(PaymentUpdate((fact,), provider_reference="ref_1",
                                                failure_code=failure_code)):
            return
        asked = self.another_secured if needs_other_payments(self.payment, before) else False
        settled = settle(self.order, self.payment, before, another_secured=asked)
        self.follow_ups += settled.follow_ups
        self.events += [*settled.events, *self.order.events]
        self.order.events.clear()
        if self.order.is_settled:
            self.order.follow_money(captured=self.payment.captured,
                                    refunded=self.payment.refunded,
                                    disputed=self.payment.disputed,
                                    dispute_lost=self.payment.dispute_lost)
        self.events += money_moved(self.order, self.payment)


def deliveries(facts: list[PaymentEvent]) -> st.SearchStrategy[list[PaymentEvent]]:
    """Every fact at least once, in any order, some of them again."""
    return st.permutations(facts).flatmap(lambda order: st.lists(
        st.sampled_from(facts), max_size=4).map(lambda again: [*order, *again]))


CARD = [PaymentEvent(E.PROCESSING), PaymentEvent(E.AUTHORIZED), PaymentEvent(E.CAPTURED)]


@given(deliveries(CARD))
def test_a_card_payment_pays_the_order_once_in_any_order(delivered: list[PaymentEvent]) -> None:
    story = Story(new_order(), new_payment())
    for fact in delivered:
        story.deliver(fact)
    assert story.order.status == OrderStatus.PAID
    assert [e for e in story.events if isinstance(e, ev.OrderPaid)] == [
        ev.OrderPaid("ord_1", "cus_1")]
    assert story.follow_ups.count(FollowUp.CAPTURE) <= 1
    assert FollowUp.GIVE_BACK_DUPLICATE not in story.follow_ups


@given(deliveries([PaymentEvent(E.AUTHORIZED), PaymentEvent(E.PROCESSING)]))
def test_a_held_order_is_only_authorized_whatever_arrives(delivered: list[PaymentEvent]) -> None:
    story = Story(new_order(held=True), new_payment())
    for fact in delivered:
        story.deliver(fact)
    assert story.order.status == OrderStatus.ON_HOLD
    assert FollowUp.CAPTURE not in story.follow_ups  # nothing is taken before the review
    assert not [e for e in story.events if isinstance(e, ev.OrderPaid)]


DEPOSIT = [PaymentEvent(E.DEPOSIT_REQUESTED), PaymentEvent(E.CAPTURED)]


@given(deliveries(DEPOSIT))
def test_a_deposit_pays_the_order_even_before_its_account_is_reported(
        delivered: list[PaymentEvent]) -> None:
    story = Story(new_order(), new_payment(method="virtual_account"))
    for fact in delivered:
        story.deliver(fact)
    assert story.order.status == OrderStatus.PAID
    assert len([e for e in story.events if isinstance(e, ev.OrderPaid)]) == 1


REFUNDS = [PaymentEvent(E.CAPTURED), PaymentEvent(E.REFUNDED, 5000, "re_1"),
           PaymentEvent(E.REFUNDED, 7000, "re_2")]


@given(deliveries(REFUNDS))
def test_refunds_are_told_once_each_and_the_order_follows_the_money(
        delivered: list[PaymentEvent]) -> None:
    story = Story(new_order(), new_payment())
    story.deliver(PaymentEvent(E.CAPTURED))
    for fact in delivered:
        story.deliver(fact)
    refunded = [e for e in story.events if isinstance(e, ev.PaymentRefunded)]
    assert sum(e.amount_minor for e in refunded) == 12000
    assert story.order.status == OrderStatus.PARTIALLY_REFUNDED


@given(deliveries([PaymentEvent(E.AUTHORIZED), PaymentEvent(E.CAPTURED)]))
def test_money_for_an_order_already_paid_is_given_back_once(
        delivered: list[PaymentEvent]) -> None:
    order = new_order()
    first = Story(order, new_payment("pay_1"))
    first.deliver(PaymentEvent(E.CAPTURED))
    late = Story(order, new_payment("pay_2"), another_secured=True)
    for fact in delivered:
        late.deliver(fact)
    assert order.status == OrderStatus.PAID
    assert late.follow_ups.count(FollowUp.GIVE_BACK_DUPLICATE) == 1
    assert late.follow_ups.count(FollowUp.REPORT_SURPLUS) == 1
    assert not [e for e in late.events if isinstance(e, ev.OrderPaid)]


@given(deliveries([PaymentEvent(E.PROCESSING), PaymentEvent(E.FAILED)]))
def test_a_failed_attempt_lets_the_customer_pay_again_unless_another_paid(
        delivered: list[PaymentEvent]) -> None:
    story = Story(new_order(), new_payment())
    for fact in delivered:
        story.deliver(fact)
    assert story.order.status == OrderStatus.PENDING_PAYMENT
    assert len([e for e in story.events if isinstance(e, ev.PaymentFailed)]) == 1


def test_an_expired_deposit_cancels_the_order_and_says_why() -> None:
    story = Story(new_order(), new_payment(method="virtual_account"))
    story.deliver(PaymentEvent(E.DEPOSIT_REQUESTED))
    assert story.order.status == OrderStatus.AWAITING_DEPOSIT
    story.deliver(PaymentEvent(E.CANCELLED), failure_code="deposit_expired")
    assert story.order.status == OrderStatus.CANCELLED
    assert ev.OrderCancelled("ord_1", "cus_1", "deposit_expired") in story.events
