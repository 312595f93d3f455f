"""What the customer and the admin read about a payment: the payment as shown, the order's
money in sum, and the message for each outcome."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from domain.failures import FailureReason, explain
from domain.payments import MONEY_TAKEN, Payment, PaymentStatus

OUTCOME_MESSAGES = {
    PaymentStatus.CAPTURED: "Payment succeeded. Your order is confirmed.",
    PaymentStatus.AUTHORIZED: (
        "Payment authorized. We are checking the order before it ships; the amount is only "
        "charged once it is confirmed."
    ),
    PaymentStatus.AWAITING_DEPOSIT: (
        "Waiting for your bank transfer: deposit the exact amount to the account shown before "
        "it expires. We will confirm your order as soon as the money arrives."
    ),
    PaymentStatus.REQUIRES_ACTION: (
        "Your bank asks you to confirm this payment: follow next_action to finish it."
    ),
}
SECURED = MONEY_TAKEN | {PaymentStatus.AUTHORIZED}


def money_summary(currency: str, payments: Sequence[Payment]) -> dict[str, Any]:
    totals = {"captured": 0, "refunded": 0, "refund_pending": 0, "disputed": 0,
              "dispute_lost": 0, "net": 0}
    for payment in payments:
        amounts = payment.amounts()
        for name in totals:
            totals[name] += amounts[name]
    return {"currency": currency, **totals}


def payment_view(payment: Payment, language: str = "en") -> dict[str, Any]:
    view: dict[str, Any] = {
        "id": payment.id, "provider": payment.provider,
        "provider_reference": payment.provider_reference or None, "method": payment.method,
        "status": payment.status.value, "amount": payment.amount.amount,
        "currency": payment.amount.currency, **{k: v for k, v in payment.amounts().items()
                                                 if k != "amount"},
        "failure_code": payment.failure_code, "next_action": payment.next_action,
        "deposit_account": payment.deposit_account,
        # the provider's clock, as every time in the API: RFC 3339 in UTC
        "events": [{**e.as_dict(), "occurred_at": None if e.occurred_at is None else
                    datetime.fromtimestamp(e.occurred_at, UTC).isoformat()}
                   for e in payment.events],
    }
    if payment.status in (PaymentStatus.FAILED, PaymentStatus.CANCELLED):
        view["failure"] = explain(payment.failure_code or default_failure(payment),
                                  language).as_dict()
    return view


def default_failure(payment: Payment) -> str:
    return (FailureReason.CANCELLED_BY_CUSTOMER.value if payment.status == PaymentStatus.CANCELLED
            else FailureReason.PROCESSING_ERROR.value)


def customer_message(payment: Payment, language: str = "en") -> str:
    if payment.status in (PaymentStatus.FAILED, PaymentStatus.CANCELLED):
        return explain(payment.failure_code or default_failure(payment), language).message
    return OUTCOME_MESSAGES.get(payment.status, "Processing your payment.")
