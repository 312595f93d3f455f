"""Stripe's objects in our terms: PaymentIntents, charges, refunds and disputes as payment
facts, its error codes as failure reasons, and the webhook kinds we act on. Pure functions."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from domain.failures import FailureReason
from domain.payments import CancellationReason, EventType, PaymentEvent, PaymentUpdate

# Stripe `decline_code` / `code` values and what the customer can do about them.
_REASONS: dict[str, FailureReason] = {
    "insufficient_funds": FailureReason.INSUFFICIENT_FUNDS,
    "expired_card": FailureReason.EXPIRED_CARD,
    "incorrect_cvc": FailureReason.INCORRECT_CARD_DETAILS,
    "incorrect_number": FailureReason.INCORRECT_CARD_DETAILS,
    "invalid_cvc": FailureReason.INCORRECT_CARD_DETAILS,
    "invalid_number": FailureReason.INCORRECT_CARD_DETAILS,
    "invalid_expiry_month": FailureReason.INCORRECT_CARD_DETAILS,
    "invalid_expiry_year": FailureReason.INCORRECT_CARD_DETAILS,
    "authentication_required": FailureReason.AUTHENTICATION_REQUIRED,
    "payment_intent_authentication_failure": FailureReason.AUTHENTICATION_REQUIRED,
    "card_velocity_exceeded": FailureReason.LIMIT_EXCEEDED,
    "withdrawal_count_limit_exceeded": FailureReason.LIMIT_EXCEEDED,
    # Radar and issuer fraud signals: the customer is only told to contact support.
    "fraudulent": FailureReason.SUSPECTED_FRAUD,
    "stolen_card": FailureReason.SUSPECTED_FRAUD,
    "lost_card": FailureReason.SUSPECTED_FRAUD,
    "pickup_card": FailureReason.SUSPECTED_FRAUD,
    "merchant_blacklist": FailureReason.SUSPECTED_FRAUD,
    "processing_error": FailureReason.PROCESSING_ERROR,
    "card_not_supported": FailureReason.UNSUPPORTED_METHOD,
    "currency_not_supported": FailureReason.UNSUPPORTED_METHOD,
}


# Errors that say "not now" rather than "no": nothing usable came back, so callers retry.
_TRANSIENT_CODES = frozenset({"rate_limit", "lock_timeout"})


# Refund.failure_reason values.
_REFUND_FAILURES: dict[str, FailureReason] = {
    "expired_or_canceled_card": FailureReason.EXPIRED_CARD,
    "lost_or_stolen_card": FailureReason.DECLINED,
    "declined": FailureReason.DECLINED,
    "insufficient_funds": FailureReason.INSUFFICIENT_FUNDS,
}


# Stripe's enums for PostRefunds.reason and PostPaymentIntentsIntentCancel.cancellation_reason.
REFUND_REASONS = frozenset({"duplicate", "fraudulent", "requested_by_customer"})


CANCELLATION_REASONS = frozenset({"abandoned", "duplicate", "fraudulent", "requested_by_customer"})


# Our CancellationReason values are Stripe's own; failure codes name the same causes.
_OUR_CANCELLATION_REASONS = {
    **{reason.value: reason.value for reason in CancellationReason},
    FailureReason.REJECTED_IN_REVIEW.value: CancellationReason.FRAUDULENT.value,
    FailureReason.AUTHENTICATION_ABANDONED.value: CancellationReason.ABANDONED.value,
    FailureReason.DEPOSIT_EXPIRED.value: CancellationReason.ABANDONED.value,
    FailureReason.CANCELLED_BY_CUSTOMER.value: CancellationReason.REQUESTED_BY_CUSTOMER.value,
}


_DISPUTE_OUTCOMES = {"won": EventType.DISPUTE_WON, "lost": EventType.DISPUTE_LOST}


# An inquiry (a "retrieval request") is a dispute object in a `warning_*` status: the issuer
# asks for information but withdraws nothing (no balance transaction; the charge can still be
# refunded, `is_charge_refundable`). Escalated, the same dispute moves to `needs_response`
# and the money is withdrawn (`charge.dispute.funds_withdrawn`).
_INQUIRY_OPEN = frozenset({"warning_needs_response", "warning_under_review"})


_INQUIRY_CLOSED = "warning_closed"


_DISPUTE_WEBHOOKS = frozenset({
    "charge.dispute.created", "charge.dispute.updated", "charge.dispute.closed",
    "charge.dispute.funds_withdrawn", "charge.dispute.funds_reinstated",
})


_INTENT_WEBHOOKS = frozenset({
    "payment_intent.succeeded", "payment_intent.processing", "payment_intent.payment_failed",
    "payment_intent.canceled", "payment_intent.requires_action",
    "payment_intent.amount_capturable_updated",
})


def failure_reason(error: Mapping[str, Any]) -> FailureReason:
    """Our reason for a Stripe error object (or a PaymentIntent's `last_payment_error`)."""
    for code in (error.get("decline_code"), error.get("code")):
        if not isinstance(code, str):
            continue
        if code in _REASONS:
            return _REASONS[code]
        if code.startswith("invalid_expiry"):
            return FailureReason.INCORRECT_CARD_DETAILS
    kind = error.get("type")
    if kind == "invalid_request_error":
        return FailureReason.INVALID_REQUEST
    if kind == "api_error":
        return FailureReason.PROCESSING_ERROR
    return FailureReason.DECLINED


def intent_facts(intent: Mapping[str, Any], occurred_at: float | None = None) -> PaymentUpdate:
    """What a PaymentIntent's status says, as one update about it."""
    when = occurred_at if occurred_at is not None else _number(intent.get("created"))
    status = intent.get("status")
    events: list[PaymentEvent] = []
    next_action: dict[str, Any] | None = None
    failure: str | None = None
    if status == "requires_action":
        events.append(PaymentEvent(EventType.ACTION_REQUIRED, occurred_at=when))
        next_action = _next_action(intent.get("next_action"))
    elif status == "processing":
        events.append(PaymentEvent(EventType.PROCESSING, occurred_at=when))
    elif status == "requires_capture":
        events.append(PaymentEvent(EventType.AUTHORIZED, _amount(intent, "amount_capturable"),
                                   occurred_at=when))
    elif status == "succeeded":
        events.append(PaymentEvent(EventType.CAPTURED, _amount(intent, "amount_received"),
                                   occurred_at=when))
    elif status == "canceled":
        if occurred_at is None:
            when = _number(intent.get("canceled_at")) or when
        events.append(PaymentEvent(EventType.CANCELLED, occurred_at=when))
    elif status == "requires_payment_method" and isinstance(
            intent.get("last_payment_error"), Mapping):
        events.append(PaymentEvent(EventType.FAILED, occurred_at=when))
        failure = failure_reason(intent["last_payment_error"]).value
    return PaymentUpdate(tuple(events), _id(intent), failure, next_action,
                         merchant_reference=_payment_id(intent))


def _intent_webhook(kind: str, intent: Mapping[str, Any],
                    when: float | None) -> tuple[str, PaymentUpdate] | None:
    """A `payment_intent.*` event, judged by its type (the object is a snapshot of then)."""
    reference = _id(intent)
    if not reference:
        return None
    event_type = {
        "payment_intent.succeeded": EventType.CAPTURED,
        "payment_intent.processing": EventType.PROCESSING,
        "payment_intent.payment_failed": EventType.FAILED,
        "payment_intent.canceled": EventType.CANCELLED,
        "payment_intent.requires_action": EventType.ACTION_REQUIRED,
        "payment_intent.amount_capturable_updated": EventType.AUTHORIZED,
    }[kind]
    amount = {EventType.CAPTURED: _amount(intent, "amount_received"),
              EventType.AUTHORIZED: _amount(intent, "amount_capturable")}.get(event_type)
    failure: str | None = None
    if event_type is EventType.FAILED:
        error = intent.get("last_payment_error")
        failure = failure_reason(error if isinstance(error, Mapping) else {}).value
    next_action = None
    if event_type is EventType.ACTION_REQUIRED:
        next_action = _next_action(intent.get("next_action"))
    return reference, PaymentUpdate(
        (PaymentEvent(event_type, amount, occurred_at=when),), reference, failure, next_action,
        merchant_reference=_payment_id(intent))


def dispute_facts(dispute: Mapping[str, Any],
                  occurred_at: float | None = None) -> list[PaymentEvent]:
    """A dispute as facts keyed by its id: always opened (so a `closed` that overtakes the
    `created` still knows the amount held), and won or lost once it is decided. An inquiry
    (`warning_*`) is recorded as such and holds no money."""
    reference, amount = _id(dispute) or "", _amount(dispute, "amount")
    when = occurred_at if occurred_at is not None else _number(dispute.get("created"))
    created = _number(dispute.get("created")) or when
    status = str(dispute.get("status"))
    if status in _INQUIRY_OPEN:
        return [PaymentEvent(EventType.INQUIRY_OPENED, amount, reference, occurred_at=created)]
    if status == _INQUIRY_CLOSED:
        return [PaymentEvent(EventType.INQUIRY_OPENED, amount, reference, occurred_at=created),
                PaymentEvent(EventType.INQUIRY_CLOSED, amount, reference, occurred_at=when)]
    facts = [PaymentEvent(EventType.DISPUTE_OPENED, amount, reference, occurred_at=created)]
    outcome = _DISPUTE_OUTCOMES.get(status)
    if outcome is not None:
        facts.append(PaymentEvent(outcome, amount, reference, occurred_at=when))
    return facts


def refunded_of_captured(charge: Mapping[str, Any]) -> int:
    """What went back to the customer out of the money captured. Stripe's `amount_refunded`
    also counts the part of an authorization that was released uncaptured (cancelling a held
    payment, or capturing less than was held, "refunds" the rest), which was never ours."""
    amount = _amount(charge, "amount") or 0
    captured = _amount(charge, "amount_captured")
    if captured is None:
        captured = amount if charge.get("captured") else 0
    released = amount - captured
    return max(0, (_amount(charge, "amount_refunded") or 0) - released)


def _next_action(action: Any) -> dict[str, Any] | None:
    if not isinstance(action, Mapping):
        return None
    kind = str(action.get("type") or "")
    redirect = action.get("redirect_to_url")
    if kind == "redirect_to_url" and isinstance(redirect, Mapping) and redirect.get("url"):
        return {"type": "redirect_to_url", "url": str(redirect["url"])}
    return {"type": kind}


def _error_of(body: Mapping[str, Any]) -> dict[str, Any]:
    error = body.get("error")
    return error if isinstance(error, dict) else {}


def _id(thing: Any) -> str | None:
    """The id of an object, or the id itself when the field was not expanded."""
    if isinstance(thing, str):
        return thing or None
    if isinstance(thing, Mapping) and isinstance(thing.get("id"), str):
        return str(thing["id"]) or None
    return None


def _payment_id(thing: Mapping[str, Any]) -> str | None:
    metadata = thing.get("metadata")
    if isinstance(metadata, Mapping) and isinstance(metadata.get("payment_id"), str):
        return str(metadata["payment_id"]) or None
    return None


def _amount(thing: Mapping[str, Any], key: str) -> int | None:
    value = thing.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _number(value: Any) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return None
