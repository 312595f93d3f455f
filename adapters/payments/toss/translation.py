"""Toss's payment objects and callbacks in our terms: a payment and its cancels as payment
facts, error codes as failure reasons, deposit callbacks as updates. Pure functions."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from application.ports import ProviderCall
from domain.errors import ProviderUnavailable
from domain.failures import FailureReason
from domain.payments import CancellationReason, EventType, PaymentEvent, PaymentUpdate

PROVIDER = "toss"
CURRENCY = "KRW"  # the only currency Toss's domestic API takes; the won has no minor unit
KST = timezone(timedelta(hours=9), "KST")  # Toss writes times without an offset in KST


DEPOSIT_CALLBACK = "DEPOSIT_CALLBACK"
PAYMENT_STATUS_CHANGED = "PAYMENT_STATUS_CHANGED"

# Toss error codes (docs.tosspayments.com/reference/error-codes) whose reason is not simply
# "the request was wrong": anything not listed here is INVALID_REQUEST.
_FAILURES: dict[str, FailureReason] = {
    **dict.fromkeys((
        "REJECT_CARD_COMPANY", "INVALID_REJECT_CARD", "REJECT_TOSSPAY_INVALID_ACCOUNT",
        "EXCEED_MAX_AUTH_COUNT", "NOT_ALLOWED_POINT_USE", "UNKNOWN_PAYMENT_ERROR",
        "RESTRICTED_TRANSFER_ACCOUNT", "INVALID_ACCOUNT_INFO_RE_REGISTER", "REFUND_REJECTED",
    ), FailureReason.DECLINED),
    # "한도초과 혹은 잔액부족" / "잔액부족": the card's limit or the balance ran out.
    **dict.fromkeys(("REJECT_CARD_PAYMENT", "REJECT_ACCOUNT_PAYMENT"),
                    FailureReason.INSUFFICIENT_FUNDS),
    **dict.fromkeys((
        "EXCEED_MAX_AMOUNT", "EXCEED_MAX_DAILY_PAYMENT_COUNT", "EXCEED_MAX_ONE_DAY_AMOUNT",
        "EXCEED_MAX_PAYMENT_AMOUNT", "EXCEED_MAX_MONTHLY_PAYMENT_AMOUNT",
        "EXCEED_MAX_ONE_DAY_WITHDRAW_AMOUNT", "EXCEED_MAX_ONE_TIME_WITHDRAW_AMOUNT",
    ), FailureReason.LIMIT_EXCEEDED),
    "INVALID_CARD_EXPIRATION": FailureReason.EXPIRED_CARD,
    **dict.fromkeys(("INVALID_CARD_NUMBER", "INVALID_PASSWORD"),
                    FailureReason.INCORRECT_CARD_DETAILS),
    **dict.fromkeys(("INVALID_STOPPED_CARD", "INVALID_CARD_LOST_OR_STOLEN", "FDS_ERROR"),
                    FailureReason.SUSPECTED_FRAUD),
    "INVALID_AUTHORIZE_AUTH": FailureReason.AUTHENTICATION_REQUIRED,
    **dict.fromkeys(("NOT_FOUND_PAYMENT_SESSION", "PAY_PROCESS_CANCELED", "PAY_PROCESS_ABORTED"),
                    FailureReason.CANCELLED_BY_CUSTOMER),
    **dict.fromkeys((
        "NOT_SUPPORTED_INSTALLMENT_PLAN_CARD_OR_MERCHANT", "NOT_SUPPORTED_MONTHLY_INSTALLMENT_PLAN",
        "NOT_SUPPORTED_MONTHLY_INSTALLMENT_PLAN_BELOW_AMOUNT",
    ), FailureReason.UNSUPPORTED_METHOD),
    **dict.fromkeys((
        "PROVIDER_ERROR", "CARD_PROCESSING_ERROR", "FAILED_INTERNAL_SYSTEM_PROCESSING",
        "FAILED_PAYMENT_INTERNAL_SYSTEM_PROCESSING", "COMMON_ERROR", "NOT_AVAILABLE_PAYMENT",
        "NOT_AVAILABLE_BANK", "FAILED_REFUND_PROCESS", "FAILED_PARTIAL_REFUND",
        "FAILED_METHOD_HANDLING_CANCEL", "FORBIDDEN_CONSECUTIVE_REQUEST",
        "IDEMPOTENT_REQUEST_PROCESSING",
    ), FailureReason.PROCESSING_ERROR),
}

# Toss says "try again in a while": no answer about the payment came back, so the call raises
# ProviderUnavailable and is retried with the same Idempotency-Key instead of failing.
TRANSIENT_CODES = frozenset({
    "PROVIDER_ERROR", "FAILED_INTERNAL_SYSTEM_PROCESSING",
    "FAILED_PAYMENT_INTERNAL_SYSTEM_PROCESSING", "COMMON_ERROR", "FAILED_REFUND_PROCESS",
    "FAILED_PARTIAL_REFUND", "FAILED_METHOD_HANDLING_CANCEL", "FORBIDDEN_CONSECUTIVE_REQUEST",
    "IDEMPOTENT_REQUEST_PROCESSING",
})


# Toss's bank codes for virtual accounts, shown to the customer by name.
BANK_NAMES = {
    "02": "KDB산업은행", "03": "IBK기업은행", "06": "KB국민은행", "07": "Sh수협은행",
    "11": "NH농협은행", "12": "단위농협", "20": "우리은행", "23": "SC제일은행", "27": "씨티은행",
    "31": "iM뱅크(대구)", "32": "부산은행", "34": "광주은행", "35": "제주은행", "37": "전북은행",
    "39": "경남은행", "45": "새마을금고", "48": "신협", "50": "저축은행중앙회", "64": "산림조합",
    "71": "우체국", "81": "하나은행", "88": "신한은행", "89": "케이뱅크", "90": "카카오뱅크",
    "92": "토스뱅크",
}

# `cancelReason` is required and shown in Toss's console and to the customer's bank: our
# reasons in words; an operator's own words (a refund reason) are sent as they are.
CANCEL_REASONS = {
    CancellationReason.FRAUDULENT.value: "Order rejected in fraud review",
    CancellationReason.ABANDONED.value: "Payment abandoned before it was completed",
    CancellationReason.DUPLICATE.value: "Duplicate payment for an order already settled",
    CancellationReason.REQUESTED_BY_CUSTOMER.value: "Cancelled at the customer's request",
    FailureReason.REJECTED_IN_REVIEW.value: "Order rejected in fraud review",
    FailureReason.AUTHENTICATION_ABANDONED.value: "Payment abandoned before it was completed",
    FailureReason.DEPOSIT_EXPIRED.value: "Deposit deadline passed",
    FailureReason.CANCELLED_BY_CUSTOMER.value: "Cancelled at the customer's request",
}


def cancel_reason(reason: str, default: str) -> str:
    return (CANCEL_REASONS.get(reason) or reason or default)[:200]


# A virtual account's refund status once money went back to a customer who had paid.
_REFUNDED_DEPOSIT = frozenset({"PENDING", "FAILED", "PARTIAL_FAILED", "COMPLETED"})


def failure_reason_of(code: str | None) -> FailureReason:
    """Our reason for a Toss error code; codes not known to mean more are invalid requests."""
    return _FAILURES.get(code or "", FailureReason.INVALID_REQUEST)


# --- translating Toss's Payment object ---------------------------------------------------------


def payment_update(payment: Mapping[str, Any]) -> PaymentUpdate:
    """Our facts for a Toss Payment object, whatever call or lookup returned it."""
    status = _text(payment.get("status"))
    total = _amount(payment.get("totalAmount"))
    requested_at = _epoch(payment.get("requestedAt"))
    failure_code: FailureReason | None = None
    deposit_account: dict[str, Any] | None = None
    events: list[PaymentEvent]
    if status in ("READY", "IN_PROGRESS"):
        events = [PaymentEvent(EventType.PROCESSING, occurred_at=requested_at)]
    elif status == "WAITING_FOR_DEPOSIT":
        events = [PaymentEvent(EventType.DEPOSIT_REQUESTED, occurred_at=requested_at)]
        deposit_account = _deposit_account(payment, total)
    elif status == "DONE":
        events = [PaymentEvent(EventType.CAPTURED, total,
                               occurred_at=_epoch(payment.get("approvedAt")))]
    elif status in ("CANCELED", "PARTIAL_CANCELED"):
        cancels = _cancel_events(payment)
        if _was_paid(payment, status):
            events = [PaymentEvent(EventType.CAPTURED, total,
                                   occurred_at=_epoch(payment.get("approvedAt"))), *cancels]
        else:
            last = max((e.occurred_at for e in cancels if e.occurred_at), default=None)
            events = [PaymentEvent(EventType.CANCELLED, occurred_at=last or requested_at)]
    elif status == "ABORTED":
        failure = payment.get("failure")
        code = _text(failure.get("code")) if isinstance(failure, Mapping) else ""
        failure_code = failure_reason_of(code) if code else FailureReason.PROCESSING_ERROR
        events = [PaymentEvent(EventType.FAILED, occurred_at=requested_at)]
    elif status == "EXPIRED":
        failure_code = (FailureReason.DEPOSIT_EXPIRED if _is_virtual_account(payment)
                        else FailureReason.AUTHENTICATION_ABANDONED)
        events = [PaymentEvent(EventType.CANCELLED, occurred_at=requested_at)]
    else:
        raise ProviderUnavailable(f"Toss Payments reported an unknown payment status {status!r}",
                                  request_sent=True)
    return PaymentUpdate(
        events=tuple(events),
        provider_reference=_text(payment.get("paymentKey")) or None,
        failure_code=failure_code.value if failure_code else None,
        deposit_account=deposit_account,
        merchant_reference=_ours(payment.get("orderId")),
        callback_secret=_text(payment.get("secret")) or None,
    )


def _cancel_events(payment: Mapping[str, Any]) -> list[PaymentEvent]:
    """One REFUNDED per completed cancel, keyed by its transactionKey."""
    events = []
    for cancel in payment.get("cancels") or ():
        if not isinstance(cancel, Mapping) or cancel.get("cancelStatus") not in (None, "DONE"):
            continue
        reference = _text(cancel.get("transactionKey"))
        if reference:
            events.append(PaymentEvent(EventType.REFUNDED, _amount(cancel.get("cancelAmount")),
                                       reference, occurred_at=_epoch(cancel.get("canceledAt"))))
    return events


def _was_paid(payment: Mapping[str, Any], status: str) -> bool:
    """Did money reach Toss before the cancel? A virtual account cancelled or expired before
    the deposit was never paid; Toss says so by its refund status (nothing to send back)."""
    if status == "PARTIAL_CANCELED":
        return True
    account = payment.get("virtualAccount")
    if isinstance(account, Mapping) and account.get("refundStatus") is not None:
        return account.get("refundStatus") in _REFUNDED_DEPOSIT
    return bool(payment.get("approvedAt"))


def _is_virtual_account(payment: Mapping[str, Any]) -> bool:
    return bool(payment.get("virtualAccount")) or payment.get("method") in (
        "가상계좌", "VIRTUAL_ACCOUNT")


def _deposit_account(payment: Mapping[str, Any], total: int) -> dict[str, Any] | None:
    """Where the customer transfers the money. Never the `secret`: that one is kept only as
    a hash, to authenticate Toss's deposit callbacks."""
    account = payment.get("virtualAccount")
    if not isinstance(account, Mapping):
        return None
    bank = _text(account.get("bankCode")) or _text(account.get("bank"))
    due = _epoch(account.get("dueDate"))
    return {
        "bank": BANK_NAMES.get(bank, bank),
        "account_number": _text(account.get("accountNumber")),
        "holder": _text(account.get("customerName")),
        "amount": total,
        "currency": _text(payment.get("currency")) or CURRENCY,
        "expires_at": datetime.fromtimestamp(due, UTC).isoformat() if due else None,
    }


def _deposit_fields(payload: Mapping[str, Any]) -> dict[str, str] | None:
    """The fields of a DEPOSIT_CALLBACK (top level, or under `data` in newer deliveries)."""
    fields = payload
    nested = payload.get("data")
    if "secret" not in payload and isinstance(nested, dict):
        fields = nested
    picked = {name: fields.get(name) for name in ("secret", "status", "transactionKey",
                                                   "orderId")}
    if not all(isinstance(value, str) and value for value in picked.values()):
        return None
    picked["createdAt"] = _text(fields.get("createdAt")) or _text(payload.get("createdAt"))
    return {name: str(value) for name, value in picked.items()}


def _translate_deposit(payload: Mapping[str, Any]) -> tuple[str, PaymentUpdate] | None:
    deposit = _deposit_fields(payload)
    if deposit is None:
        return None
    event_type = {"DONE": EventType.CAPTURED, "CANCELED": EventType.CANCELLED,
                  "WAITING_FOR_DEPOSIT": EventType.DEPOSIT_REQUESTED}.get(deposit["status"])
    if event_type is None:
        return None
    order_id = deposit["orderId"]
    # The callback names no paymentKey: the payment is found by its id (Toss's orderId), and
    # only if the secret matches the one Toss gave us for it.
    return order_id, PaymentUpdate(
        events=(PaymentEvent(event_type, occurred_at=_epoch(deposit["createdAt"])),),
        merchant_reference=_ours(order_id), callback_secret=deposit["secret"])


def _failed(reason: FailureReason, payment_id: str) -> PaymentUpdate:
    return PaymentUpdate.of(EventType.FAILED, failure_code=reason.value,
                            merchant_reference=_ours(payment_id))


def _refund_failed(call: ProviderCall, reason: FailureReason) -> PaymentUpdate:
    return PaymentUpdate(
        events=(PaymentEvent(EventType.REFUND_FAILED, call.amount.amount, call.idempotency_key,
                             settles=call.idempotency_key),),
        provider_reference=call.provider_reference, failure_code=reason.value)


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _amount(value: Any) -> int:
    """Toss writes KRW amounts as JSON numbers of whole won."""
    if isinstance(value, bool) or not isinstance(value, int | float) or value != int(value):
        raise ProviderUnavailable(f"Toss Payments reported an amount that is not whole won: "
                                  f"{value!r}", request_sent=True)
    return int(value)


def _epoch(value: Any) -> float | None:
    """Epoch seconds of an ISO 8601 time; Toss leaves the offset out of some (KST then)."""
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=KST)
    return moment.timestamp()


def _ours(order_id: object) -> str | None:
    """Toss's orderId when it is one of our payment ids (virtual accounts); a card payment's
    orderId is the order's id, which names no single payment."""
    text = _text(order_id)
    return text if text.startswith("pay_") else None
