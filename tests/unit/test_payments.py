"""Payment.apply: provider answers arrive twice, late or out of order; the best truth wins."""

from __future__ import annotations

import pytest

from domain.errors import DomainError
from domain.money import Money
from domain.payments import Payment, PaymentStatus, PaymentUpdate

S = PaymentStatus
ACCOUNT = {"bank": "Sandbox Bank", "account_number": "123-456-789", "holder": "Mall"}


def payment(**overrides: object) -> Payment:
    fields: dict[str, object] = {
        "id": "p-1", "order_id": "o-1", "customer_id": "c-1", "provider": "sandbox",
        "amount": Money(15000, "KRW"), "method": "card", "idempotency_key": "idem-1",
    }
    fields.update(overrides)
    return Payment(**fields)  # type: ignore[arg-type]


def test_a_new_payment_is_pending_and_not_final() -> None:
    pay = payment()
    assert pay.status == S.PENDING
    assert not pay.is_final


def test_forward_progress_is_applied_and_recorded() -> None:
    pay = payment()
    assert pay.apply(PaymentUpdate(S.PROCESSING, provider_reference="pi_1"))
    assert pay.apply(PaymentUpdate(S.SUCCEEDED, provider_reference="pi_1"))
    assert pay.status == S.SUCCEEDED
    assert pay.provider_reference == "pi_1"
    assert pay.history == ["processing", "succeeded"]
    assert pay.is_final


def test_late_processing_after_succeeded_changes_nothing() -> None:
    pay = payment()
    pay.apply(PaymentUpdate(S.SUCCEEDED, provider_reference="pi_1"))
    assert pay.apply(PaymentUpdate(S.PROCESSING, provider_reference="pi_1")) is False
    assert pay.apply(PaymentUpdate(S.REQUIRES_ACTION, next_action={"url": "x"})) is False
    assert pay.status == S.SUCCEEDED
    assert pay.next_action is None
    assert pay.history == ["succeeded"]


def test_duplicate_update_returns_false() -> None:
    pay = payment()
    assert pay.apply(PaymentUpdate(S.PROCESSING, provider_reference="pi_1")) is True
    assert pay.apply(PaymentUpdate(S.PROCESSING, provider_reference="pi_1")) is False
    assert pay.apply(PaymentUpdate(S.SUCCEEDED, provider_reference="pi_1")) is True
    assert pay.apply(PaymentUpdate(S.SUCCEEDED, provider_reference="pi_1")) is False
    assert pay.history == ["processing", "succeeded"]


def test_failed_then_succeeded_moves_to_succeeded() -> None:
    pay = payment()
    assert pay.apply(PaymentUpdate(S.FAILED, failure_code="card_declined",
                                   failure_message="declined"))
    assert pay.failure_code == "card_declined"
    assert pay.apply(PaymentUpdate(S.SUCCEEDED))
    assert pay.status == S.SUCCEEDED
    assert pay.failure_code is None
    assert pay.failure_message is None


def test_succeeded_then_failed_stays_succeeded() -> None:
    pay = payment()
    pay.apply(PaymentUpdate(S.SUCCEEDED))
    assert pay.apply(PaymentUpdate(S.FAILED, failure_code="card_declined")) is False
    assert pay.apply(PaymentUpdate(S.CANCELLED)) is False
    assert pay.status == S.SUCCEEDED
    assert pay.failure_code is None


def test_failed_is_not_replaced_by_cancelled_or_processing() -> None:
    pay = payment()
    pay.apply(PaymentUpdate(S.FAILED, failure_code="card_declined"))
    assert pay.apply(PaymentUpdate(S.CANCELLED)) is False
    assert pay.apply(PaymentUpdate(S.PROCESSING)) is False
    assert pay.status == S.FAILED
    assert pay.failure_code == "card_declined"


def test_update_for_another_provider_reference_raises() -> None:
    pay = payment()
    pay.apply(PaymentUpdate(S.PROCESSING, provider_reference="pi_1"))
    with pytest.raises(DomainError, match="pi_2"):
        pay.apply(PaymentUpdate(S.SUCCEEDED, provider_reference="pi_2"))
    assert pay.status == S.PROCESSING
    assert pay.provider_reference == "pi_1"


def test_update_without_a_reference_is_accepted() -> None:
    pay = payment(provider_reference="pi_1")
    assert pay.apply(PaymentUpdate(S.SUCCEEDED))
    assert pay.provider_reference == "pi_1"


def test_deposit_account_is_kept() -> None:
    pay = payment(method="virtual_account")
    assert pay.apply(PaymentUpdate(S.AWAITING_DEPOSIT, provider_reference="va_1",
                                   deposit_account=ACCOUNT))
    assert pay.deposit_account == ACCOUNT
    assert not pay.is_final
    assert pay.apply(PaymentUpdate(S.SUCCEEDED, provider_reference="va_1"))
    assert pay.status == S.SUCCEEDED
    assert pay.deposit_account == ACCOUNT


def test_first_deposit_account_is_not_overwritten() -> None:
    pay = payment(method="virtual_account")
    pay.apply(PaymentUpdate(S.AWAITING_DEPOSIT, deposit_account=ACCOUNT))
    pay.apply(PaymentUpdate(S.AWAITING_DEPOSIT, deposit_account={"bank": "Other"}))
    assert pay.deposit_account == ACCOUNT


def test_requires_action_carries_next_action() -> None:
    pay = payment()
    action = {"type": "redirect", "url": "https://sandbox.example/3ds"}
    assert pay.apply(PaymentUpdate(S.REQUIRES_ACTION, next_action=action))
    assert pay.next_action == action
    assert pay.apply(PaymentUpdate(S.SUCCEEDED))
    assert pay.next_action is None
