"""The payment aggregate: facts arrive twice, late or out of order; the log decides."""

from __future__ import annotations

import itertools

import pytest

from domain.errors import DomainError
from domain.money import Money
from domain.payments import (
    EventType,
    Payment,
    PaymentEvent,
    PaymentStatus,
    PaymentUpdate,
    RefundTooLarge,
)

S, E = PaymentStatus, EventType
ACCOUNT = {"bank": "Sandbox Bank", "account_number": "123-456-789", "holder": "Mall"}


def payment(**overrides: object) -> Payment:
    fields: dict[str, object] = {
        "id": "p-1", "order_id": "o-1", "customer_id": "c-1", "provider": "sandbox",
        "amount": Money(15000, "KRW"), "method": "card", "idempotency_key": "idem-1",
    }
    fields.update(overrides)
    return Payment(**fields)  # type: ignore[arg-type]


def fact(event_type: EventType, amount: int | None = None, reference: str = "",
         **fields: object) -> PaymentUpdate:
    return PaymentUpdate((PaymentEvent(event_type, amount, reference, **fields),),  # type: ignore[arg-type]
                         provider_reference="pi_1")


def test_a_new_payment_is_pending_and_not_final() -> None:
    pay = payment()
    assert pay.status == S.PENDING and not pay.is_final
    assert pay.amounts() == {"amount": 15000, "authorized": 0, "captured": 0, "refunded": 0,
                             "refund_pending": 0, "disputed": 0, "dispute_lost": 0, "net": 0}


def test_forward_progress_is_recorded_in_the_log_and_history() -> None:
    pay = payment()
    assert pay.apply(fact(E.PROCESSING))
    assert pay.apply(fact(E.CAPTURED))
    assert pay.status == S.CAPTURED and pay.captured == 15000 and pay.net == 15000
    assert pay.provider_reference == "pi_1"
    assert [e.type for e in pay.events] == [E.PROCESSING, E.CAPTURED]
    assert pay.history == ["processing", "captured"]
    assert [e.type for e in pay.new_events] == [E.PROCESSING, E.CAPTURED]


def test_a_late_processing_never_undoes_captured() -> None:
    pay = payment()
    pay.apply(fact(E.CAPTURED))
    assert pay.apply(fact(E.PROCESSING)) is True  # a new fact, kept in the log ...
    assert pay.status == S.CAPTURED  # ... but it changes nothing
    assert pay.apply(PaymentUpdate.of(E.ACTION_REQUIRED, next_action={"url": "x"})) is True
    assert pay.status == S.CAPTURED and pay.next_action is None


def test_a_repeated_fact_is_not_learned_twice() -> None:
    pay = payment()
    assert pay.apply(fact(E.CAPTURED)) is True
    assert pay.apply(fact(E.CAPTURED)) is False
    assert pay.apply(fact(E.REFUNDED, 500, "re_1")) is True
    assert pay.apply(fact(E.REFUNDED, 500, "re_1")) is False
    assert pay.refunded == 500 and len(pay.events) == 2


def test_failed_then_captured_ends_captured_and_clears_the_failure() -> None:
    pay = payment()
    pay.apply(PaymentUpdate.of(E.FAILED, failure_code="declined"))
    assert pay.status == S.FAILED and pay.failure_code == "declined"
    assert pay.apply(fact(E.CAPTURED))
    assert pay.status == S.CAPTURED and pay.failure_code is None


def test_captured_then_failed_stays_captured() -> None:
    pay = payment()
    pay.apply(fact(E.CAPTURED))
    pay.apply(PaymentUpdate.of(E.FAILED, failure_code="declined"))
    assert pay.status == S.CAPTURED and pay.failure_code is None


def test_an_update_for_another_provider_reference_is_refused() -> None:
    pay = payment()
    pay.apply(fact(E.PROCESSING))
    with pytest.raises(DomainError, match="pi_2"):
        pay.apply(PaymentUpdate.of(E.CAPTURED, "pi_2"))
    assert pay.status == S.PROCESSING and pay.provider_reference == "pi_1"


def test_the_first_deposit_account_is_kept() -> None:
    pay = payment(method="virtual_account")
    pay.apply(PaymentUpdate.of(E.DEPOSIT_REQUESTED, "va_1", deposit_account=ACCOUNT))
    pay.apply(PaymentUpdate.of(E.DEPOSIT_REQUESTED, "va_1", deposit_account={"bank": "Other"}))
    assert pay.status == S.AWAITING_DEPOSIT and pay.deposit_account == ACCOUNT
    pay.apply(PaymentUpdate.of(E.CAPTURED, "va_1"))
    assert pay.status == S.CAPTURED and pay.deposit_account == ACCOUNT


def test_requires_action_carries_its_next_action_until_it_is_done() -> None:
    pay = payment()
    action = {"type": "redirect_to_url", "url": "https://bank.example/3ds"}
    pay.apply(PaymentUpdate.of(E.ACTION_REQUIRED, next_action=action))
    assert pay.status == S.REQUIRES_ACTION and pay.next_action == action
    pay.apply(PaymentUpdate.of(E.CAPTURED))
    assert pay.next_action is None


def test_progress_events_follow_the_providers_clock() -> None:
    pay = payment()
    pay.apply(PaymentUpdate.of(E.PROCESSING, occurred_at=20.0))
    pay.apply(PaymentUpdate.of(E.ACTION_REQUIRED, occurred_at=10.0))
    assert pay.status == S.PROCESSING  # 3-D Secure was passed, the bank is processing


def test_authorized_then_captured_or_released() -> None:
    held = payment()
    held.apply(fact(E.AUTHORIZED))
    assert held.status == S.AUTHORIZED and held.authorized == 15000 and held.captured == 0
    held.apply(fact(E.CAPTURED))
    assert held.status == S.CAPTURED and held.authorized == 0
    released = payment()
    released.apply(fact(E.AUTHORIZED))
    released.apply(fact(E.CANCELLED))
    assert released.status == S.CANCELLED and released.authorized == 0 and released.is_final


# --- refunds --------------------------------------------------------------------------------


def test_partial_refunds_then_one_too_many() -> None:
    pay = payment()
    pay.apply(fact(E.CAPTURED))
    pay.request_refund("rf_1", 5000)
    assert pay.refund_pending == 5000 and pay.refundable == 10000
    pay.apply(fact(E.REFUNDED, 5000, "re_1", settles="rf_1"))
    assert pay.status == S.PARTIALLY_REFUNDED
    assert (pay.refunded, pay.refund_pending, pay.refundable) == (5000, 0, 10000)
    pay.request_refund("rf_2", 6000)
    pay.apply(fact(E.REFUNDED, 6000, "re_2", settles="rf_2"))
    with pytest.raises(RefundTooLarge, match="4000 KRW still refundable"):
        pay.request_refund("rf_3", 5000)
    assert pay.refunded == 11000 and pay.net == 4000
    assert [e.reference for e in pay.events if e.type == E.REFUND_REQUESTED] == ["rf_1", "rf_2"]


def test_a_pending_refund_reserves_its_amount() -> None:
    pay = payment()
    pay.apply(fact(E.CAPTURED))
    pay.request_refund("rf_1", 10000)
    with pytest.raises(RefundTooLarge):
        pay.request_refund("rf_2", 6000)
    pay.apply(PaymentUpdate((PaymentEvent(E.REFUND_FAILED, reference="rf_1"),)))
    assert pay.refund_pending == 0 and pay.refundable == 15000
    assert pay.status == S.CAPTURED and pay.failure_code is None


def test_nothing_is_refundable_before_capture() -> None:
    pay = payment()
    pay.apply(fact(E.AUTHORIZED))
    with pytest.raises(RefundTooLarge):
        pay.request_refund("rf_1", 1)
    with pytest.raises(DomainError, match="positive"):
        pay.request_refund("rf_1", 0)


def test_a_full_refund_is_final() -> None:
    pay = payment()
    pay.apply(fact(E.CAPTURED))
    pay.apply(fact(E.REFUNDED, 15000, "re_1"))
    assert pay.status == S.REFUNDED and pay.is_final and pay.net == 0


def test_running_totals_and_single_refunds_are_not_counted_twice() -> None:
    pay = payment()
    pay.apply(fact(E.CAPTURED))
    pay.apply(fact(E.REFUNDED, 3000, "re_1"))
    pay.apply(fact(E.REFUNDED, 3000, running_total=True))  # charge.refunded for re_1
    assert pay.refunded == 3000
    pay.apply(fact(E.REFUNDED, 7000, running_total=True))  # a refund made at the dashboard
    assert pay.refunded == 7000
    pay.apply(fact(E.REFUNDED, 3000, running_total=True))  # a stale total arrives late
    assert pay.refunded == 7000


def test_refunds_never_exceed_the_capture_even_if_a_provider_says_so() -> None:
    pay = payment()
    pay.apply(fact(E.CAPTURED))
    pay.apply(fact(E.REFUNDED, 99999, "re_1"))
    assert pay.refunded == 15000 and pay.net == 0


# --- disputes -------------------------------------------------------------------------------


def test_a_dispute_holds_the_money_then_won_gives_it_back() -> None:
    pay = payment()
    pay.apply(fact(E.CAPTURED))
    pay.apply(fact(E.DISPUTE_OPENED, 15000, "dp_1"))
    assert pay.status == S.DISPUTED and pay.disputed == 15000 and pay.refundable == 0
    pay.apply(fact(E.DISPUTE_WON, 15000, "dp_1"))
    assert pay.status == S.DISPUTE_WON and pay.disputed == 0 and pay.net == 15000


def test_a_lost_dispute_takes_the_money() -> None:
    pay = payment()
    pay.apply(fact(E.CAPTURED))
    pay.apply(fact(E.DISPUTE_OPENED, 15000, "dp_1"))
    pay.apply(fact(E.DISPUTE_LOST, 15000, "dp_1"))
    assert pay.status == S.DISPUTE_LOST and pay.is_final
    assert pay.dispute_lost == 15000 and pay.net == 0 and pay.refundable == 0


# --- order independence ---------------------------------------------------------------------

HISTORY = [
    PaymentEvent(E.PROCESSING, occurred_at=1.0),
    PaymentEvent(E.ACTION_REQUIRED, occurred_at=2.0),
    PaymentEvent(E.CAPTURED, 15000, occurred_at=3.0),
    PaymentEvent(E.REFUNDED, 2000, "re_1", settles="rf_1"),
    PaymentEvent(E.REFUNDED, 2000, running_total=True),
    PaymentEvent(E.DISPUTE_OPENED, 13000, "dp_1"),
    PaymentEvent(E.DISPUTE_WON, 13000, "dp_1"),
]


@pytest.mark.parametrize("order", list(itertools.permutations(range(len(HISTORY))))[::97])
def test_any_delivery_order_and_any_repeat_ends_in_the_same_state(order: tuple[int, ...]) -> None:
    in_order = payment()
    for event in HISTORY:
        in_order.apply(PaymentUpdate((event,)))
    shuffled = payment()
    for index in order + order[:3]:  # out of order, and some delivered twice
        shuffled.apply(PaymentUpdate((HISTORY[index],)))
    assert shuffled.status == in_order.status == S.DISPUTE_WON
    assert shuffled.amounts() == in_order.amounts()
    assert len(shuffled.events) == len(HISTORY)


def test_events_round_trip_through_their_stored_form() -> None:
    for event in HISTORY:
        assert PaymentEvent.from_dict(event.as_dict()) == event


def test_the_callback_secret_is_kept_only_as_a_hash() -> None:
    pay = payment(method="virtual_account")
    pay.apply(PaymentUpdate.of(E.DEPOSIT_REQUESTED, "va_1", callback_secret="s3cr3t-value"))
    assert pay.callback_secret_hash and "s3cr3t" not in pay.callback_secret_hash
    assert pay.accepts_callback_secret("s3cr3t-value")
    assert not pay.accepts_callback_secret("guess")
    assert not payment().accepts_callback_secret("")


def test_a_refund_seen_by_lookup_before_its_answer_still_settles_the_request() -> None:
    pay = payment()
    pay.apply(fact(E.CAPTURED))
    pay.request_refund("rf_1", 4000)
    pay.apply(fact(E.REFUNDED, 4000, "re_1"))  # reconciliation saw it first
    assert pay.refund_pending == 4000
    assert pay.apply(fact(E.REFUNDED, 4000, "re_1", settles="rf_1"))
    assert pay.refunded == 4000 and pay.refund_pending == 0 and pay.refundable == 11000
