"""Stripe webhooks: `Stripe-Signature` checked the way Stripe's libraries check it, and each
event type we listen to translated into facts about a payment."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any, cast

import pytest
from multidict import CIMultiDict

from adapters.http import HttpResponse, OutboundHttp
from adapters.payments.stripe import StripeGateway
from application.ports import InboundEvent, ProviderCall
from domain.errors import InvalidSignature
from domain.failures import FailureReason
from domain.money import Money
from domain.payments import (
    CancellationReason,
    EventType,
    Payment,
    PaymentEvent,
    PaymentStatus,
)

SECRET = "whsec_current_1c6f0d"
OLD_SECRET = "whsec_previous_93ab2e"
CREATED = 1764135000


def gateway(*secrets: str) -> StripeGateway:
    return StripeGateway(cast(OutboundHttp, object()), "sk_test_unused",
                         list(secrets or (SECRET,)))


def stripe_signature(body: bytes, *secrets: str, timestamp: int | None = None) -> str:
    """`t=<unix>,v1=<hex>[,v1=<hex>]`: HMAC-SHA256 of "<t>.<raw body>" with each secret."""
    stamp = int(time.time()) if timestamp is None else timestamp
    signatures = [hmac.new(secret.encode(), f"{stamp}.".encode() + body, hashlib.sha256)
                  .hexdigest() for secret in secrets]
    return ",".join([f"t={stamp}", *(f"v1={signature}" for signature in signatures)])


def event(kind: str, thing: dict[str, Any], created: int = CREATED) -> dict[str, Any]:
    return {"id": f"evt_{kind.replace('.', '_')}", "object": "event",
            "api_version": "2023-08-16", "created": created, "data": {"object": thing},
            "livemode": False, "pending_webhooks": 1,
            "request": {"id": None, "idempotency_key": None}, "type": kind}


def body_of(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload).encode()


# --- signatures -------------------------------------------------------------------------------


def test_an_event_signed_like_stripe_is_accepted_and_parsed() -> None:
    payload = event("payment_intent.succeeded", intent("succeeded", amount_received=5000))
    body = body_of(payload)
    verified = gateway().verify_webhook({"Stripe-Signature": stripe_signature(body, SECRET)},
                                        body)
    assert verified == InboundEvent("evt_payment_intent_succeeded", "payment_intent.succeeded",
                                    payload)


@pytest.mark.parametrize("headers", [
    lambda signature: {"stripe-signature": signature},
    lambda signature: CIMultiDict({"STRIPE-SIGNATURE": signature}),
])
def test_the_header_is_found_whatever_its_case(headers: Any) -> None:
    body = body_of(event("charge.refunded", {}))
    assert gateway().verify_webhook(headers(stripe_signature(body, SECRET)), body)


def test_a_tampered_body_is_refused() -> None:
    body = body_of(event("charge.refunded", {"amount_refunded": 100}))
    signature = stripe_signature(body, SECRET)
    with pytest.raises(InvalidSignature):
        gateway().verify_webhook({"Stripe-Signature": signature},
                                 body.replace(b"100", b"999"))


def test_a_signature_with_another_secret_is_refused() -> None:
    body = body_of(event("charge.refunded", {}))
    with pytest.raises(InvalidSignature):
        gateway().verify_webhook({"Stripe-Signature": stripe_signature(body, "whsec_other")},
                                 body)


@pytest.mark.parametrize("age", [301, -301, 3600])
def test_a_timestamp_outside_five_minutes_is_refused(age: int) -> None:
    body = body_of(event("charge.refunded", {}))
    signature = stripe_signature(body, SECRET, timestamp=int(time.time()) - age)
    with pytest.raises(InvalidSignature):
        gateway().verify_webhook({"Stripe-Signature": signature}, body)


def test_a_timestamp_within_five_minutes_is_accepted() -> None:
    body = body_of(event("charge.refunded", {}))
    signature = stripe_signature(body, SECRET, timestamp=int(time.time()) - 290)
    assert gateway().verify_webhook({"Stripe-Signature": signature}, body)


def test_during_a_rotation_stripe_signs_with_both_secrets() -> None:
    """Stripe sends one v1 per active secret; ours may hold only one of them."""
    body = body_of(event("charge.refunded", {}))
    signature = stripe_signature(body, OLD_SECRET, SECRET)
    assert gateway(SECRET).verify_webhook({"Stripe-Signature": signature}, body)
    assert gateway(OLD_SECRET).verify_webhook({"Stripe-Signature": signature}, body)


def test_every_secret_of_the_ring_is_accepted() -> None:
    body = body_of(event("charge.refunded", {}))
    ring = gateway(SECRET, OLD_SECRET)
    for secret in (SECRET, OLD_SECRET):
        assert ring.verify_webhook({"Stripe-Signature": stripe_signature(body, secret)}, body)


@pytest.mark.parametrize("headers", [{}, {"Stripe-Signature": ""},
                                     {"Stripe-Signature": "v1=abc"},
                                     {"Stripe-Signature": "t=abc,v1=abc"}])
def test_a_missing_or_malformed_header_is_refused(headers: dict[str, str]) -> None:
    with pytest.raises(InvalidSignature):
        gateway().verify_webhook(headers, body_of(event("charge.refunded", {})))


@pytest.mark.parametrize("body", [b"not json", b"[]", b'{"id": "evt_1"}',
                                  b'{"id": "evt_1", "type": "x", "data": {}}',
                                  b'{"id": "evt_1", "object": "charge", "type": "x", '
                                  b'"data": {"object": {}}}'])
def test_a_signed_body_that_is_not_a_stripe_event_is_refused(body: bytes) -> None:
    with pytest.raises(InvalidSignature):
        gateway().verify_webhook({"Stripe-Signature": stripe_signature(body, SECRET)}, body)


# --- translation ------------------------------------------------------------------------------


def intent(status: str, **fields: Any) -> dict[str, Any]:
    return {"id": "pi_3Nx", "object": "payment_intent", "amount": 5000,
            "amount_capturable": 0, "amount_received": 0, "capture_method": "automatic",
            "created": CREATED - 60, "currency": "usd", "status": status,
            "metadata": {"payment_id": "pay_1", "order_id": "ord_1"},
            "last_payment_error": None, "next_action": None, "latest_charge": "ch_3Nx",
            **fields}


def translate(kind: str, thing: dict[str, Any], created: int = CREATED) -> Any:
    payload = event(kind, thing, created)
    return gateway().translate_webhook(InboundEvent(payload["id"], kind, payload))


@pytest.mark.parametrize(("kind", "thing", "expected"), [
    ("payment_intent.succeeded", intent("succeeded", amount_received=5000),
     PaymentEvent(EventType.CAPTURED, 5000, occurred_at=CREATED)),
    ("payment_intent.processing", intent("processing"),
     PaymentEvent(EventType.PROCESSING, occurred_at=CREATED)),
    ("payment_intent.canceled", intent("canceled", canceled_at=CREATED - 5,
                                       cancellation_reason="abandoned"),
     PaymentEvent(EventType.CANCELLED, occurred_at=CREATED)),
    ("payment_intent.amount_capturable_updated",
     intent("requires_capture", amount_capturable=5000, capture_method="manual"),
     PaymentEvent(EventType.AUTHORIZED, 5000, occurred_at=CREATED)),
])
def test_payment_intent_events(kind: str, thing: dict[str, Any],
                               expected: PaymentEvent) -> None:
    reference, update = translate(kind, thing)
    assert reference == update.provider_reference == "pi_3Nx"
    assert update.events == (expected,)
    assert update.merchant_reference == "pay_1"
    assert update.failure_code is None


def test_a_failed_payment_carries_our_reason() -> None:
    failed = intent("requires_payment_method", last_payment_error={
        "type": "card_error", "code": "card_declined", "decline_code": "lost_card",
        "message": "Your card was declined."})
    reference, update = translate("payment_intent.payment_failed", failed)
    assert reference == "pi_3Nx"
    assert update.events == (PaymentEvent(EventType.FAILED, occurred_at=CREATED),)
    # The customer is not told the card was reported lost, only to contact support.
    assert update.failure_code == FailureReason.SUSPECTED_FRAUD.value


def test_requires_action_carries_the_redirect() -> None:
    waiting = intent("requires_action", next_action={
        "type": "redirect_to_url",
        "redirect_to_url": {"url": "https://hooks.stripe.com/3d_secure_2/hosted?x=1",
                            "return_url": "https://mall.example/return"}})
    _, update = translate("payment_intent.requires_action", waiting)
    assert update.events == (PaymentEvent(EventType.ACTION_REQUIRED, occurred_at=CREATED),)
    assert update.next_action == {"type": "redirect_to_url",
                                  "url": "https://hooks.stripe.com/3d_secure_2/hosted?x=1"}


def test_another_next_action_is_passed_on_by_its_type() -> None:
    waiting = intent("requires_action", next_action={"type": "use_stripe_sdk",
                                                     "use_stripe_sdk": {}})
    _, update = translate("payment_intent.requires_action", waiting)
    assert update.next_action == {"type": "use_stripe_sdk"}


def charge(**fields: Any) -> dict[str, Any]:
    return {"id": "ch_3Nx", "object": "charge", "amount": 5000, "amount_captured": 5000,
            "amount_refunded": 0, "captured": True, "created": CREATED - 60,
            "currency": "usd", "disputed": False, "payment_intent": "pi_3Nx",
            "metadata": {"payment_id": "pay_1"}, "refunded": False, "status": "succeeded",
            **fields}


def test_charge_refunded_reports_the_running_total() -> None:
    reference, update = translate("charge.refunded", charge(amount_refunded=3500))
    assert reference == "pi_3Nx"
    assert update.events == (PaymentEvent(EventType.REFUNDED, 3500, running_total=True,
                                          occurred_at=CREATED),)
    assert update.merchant_reference == "pay_1"


def test_a_released_hold_is_not_a_refund() -> None:
    """Cancelling an uncaptured payment makes Stripe send charge.refunded for all of it."""
    released = charge(captured=False, amount_captured=0, amount_refunded=5000, refunded=True)
    assert translate("charge.refunded", released) is None


def test_after_a_partial_capture_only_refunds_of_captured_money_count() -> None:
    # 3000 of 5000 captured (2000 released), then 1000 refunded.
    partly = charge(amount_captured=3000, amount_refunded=3000)
    _, update = translate("charge.refunded", partly)
    assert update.events == (PaymentEvent(EventType.REFUNDED, 1000, running_total=True,
                                          occurred_at=CREATED),)


def test_two_refund_totals_are_two_facts_and_the_larger_counts() -> None:
    payment = Payment("pay_1", "ord_1", "cus_1", "stripe", Money(5000, "USD"), "card", "k")
    payment.apply(translate("payment_intent.succeeded",
                            intent("succeeded", amount_received=5000))[1])
    later = translate("charge.refunded", charge(amount_refunded=3500), CREATED + 20)[1]
    earlier = translate("charge.refunded", charge(amount_refunded=1500), CREATED + 10)[1]
    assert payment.apply(later) and payment.apply(earlier)  # delivered out of order
    assert (payment.refunded, payment.status) == (3500, PaymentStatus.PARTIALLY_REFUNDED)


def dispute(status: str, **fields: Any) -> dict[str, Any]:
    return {"id": "dp_1Nx", "object": "dispute", "amount": 5000, "charge": "ch_3Nx",
            "created": CREATED - 30, "currency": "usd", "payment_intent": "pi_3Nx",
            "reason": "fraudulent", "status": status, "metadata": {}, **fields}


def test_a_dispute_opens() -> None:
    reference, update = translate("charge.dispute.created", dispute("needs_response"))
    assert reference == "pi_3Nx"
    assert update.events == (PaymentEvent(EventType.DISPUTE_OPENED, 5000, "dp_1Nx",
                                          occurred_at=CREATED - 30),)


@pytest.mark.parametrize(("status", "outcome"), [
    ("won", EventType.DISPUTE_WON), ("lost", EventType.DISPUTE_LOST)])
def test_a_closed_dispute_is_won_or_lost(status: str, outcome: EventType) -> None:
    reference, update = translate("charge.dispute.closed", dispute(status), CREATED + 90)
    assert reference == "pi_3Nx"
    assert update.events == (
        PaymentEvent(EventType.DISPUTE_OPENED, 5000, "dp_1Nx", occurred_at=CREATED - 30),
        PaymentEvent(outcome, 5000, "dp_1Nx", occurred_at=CREATED + 90))


def captured_payment() -> Payment:
    payment = Payment("pay_1", "ord_1", "cus_1", "stripe", Money(5000, "USD"), "card", "k")
    payment.apply(translate("payment_intent.succeeded",
                            intent("succeeded", amount_received=5000))[1])
    return payment


@pytest.mark.parametrize("status", ["warning_needs_response", "warning_under_review"])
def test_an_inquiry_is_recorded_but_takes_no_money(status: str) -> None:
    inquiry = dispute(status, is_charge_refundable=True, balance_transactions=[])
    reference, update = translate("charge.dispute.created", inquiry)
    assert reference == "pi_3Nx"
    assert update.events == (PaymentEvent(EventType.INQUIRY_OPENED, 5000, "dp_1Nx",
                                          occurred_at=CREATED - 30),)
    payment = captured_payment()
    assert payment.apply(update)
    assert payment.inquiry_open
    assert (payment.status, payment.disputed, payment.net, payment.refundable) == (
        PaymentStatus.CAPTURED, 0, 5000, 5000)


def test_a_closed_inquiry_is_neither_won_nor_lost() -> None:
    payment = captured_payment()
    payment.apply(translate("charge.dispute.created", dispute("warning_needs_response"))[1])
    reference, closed = translate("charge.dispute.closed", dispute("warning_closed"),
                                  CREATED + 90)
    assert reference == "pi_3Nx"
    assert [e.type for e in closed.events] == [EventType.INQUIRY_OPENED,
                                               EventType.INQUIRY_CLOSED]
    assert payment.apply(closed)
    assert not payment.inquiry_open
    assert (payment.status, payment.disputed, payment.dispute_lost, payment.net) == (
        PaymentStatus.CAPTURED, 0, 0, 5000)


def test_an_inquiry_escalated_to_a_dispute_withdraws_the_money() -> None:
    payment = captured_payment()
    payment.apply(translate("charge.dispute.created", dispute("warning_needs_response"))[1])
    _, withdrawn = translate("charge.dispute.funds_withdrawn", dispute(
        "needs_response", is_charge_refundable=False,
        balance_transactions=[{"id": "txn_1", "amount": -5000}]), CREATED + 60)
    assert payment.apply(withdrawn)
    assert not payment.inquiry_open
    assert (payment.status, payment.disputed, payment.refundable) == (
        PaymentStatus.DISPUTED, 5000, 0)
    _, updated = translate("charge.dispute.updated", dispute("under_review"), CREATED + 70)
    assert not payment.apply(updated)  # nothing new: still open


def test_a_closed_dispute_that_overtakes_its_opening_still_settles_the_payment() -> None:
    payment = Payment("pay_1", "ord_1", "cus_1", "stripe", Money(5000, "USD"), "card", "k")
    payment.apply(translate("payment_intent.succeeded",
                            intent("succeeded", amount_received=5000))[1])
    closed = translate("charge.dispute.closed", dispute("lost"), CREATED + 90)[1]
    created = translate("charge.dispute.created", dispute("needs_response"), CREATED)[1]
    assert payment.apply(closed)
    assert (payment.status, payment.dispute_lost, payment.net) == (
        PaymentStatus.DISPUTE_LOST, 5000, 0)
    assert not payment.apply(created)  # the opening it already knew
    assert payment.status == PaymentStatus.DISPUTE_LOST


@pytest.mark.parametrize(("kind", "thing"), [
    ("customer.created", {"id": "cus_1", "object": "customer"}),
    ("charge.succeeded", charge()),
    ("payment_intent.created", intent("requires_payment_method")),
    ("charge.refunded", charge(payment_intent=None, amount_refunded=100)),
    ("charge.dispute.created", dispute("needs_response", payment_intent=None)),
])
def test_other_events_are_not_about_a_payment(kind: str, thing: dict[str, Any]) -> None:
    assert translate(kind, thing) is None


# --- what we tell Stripe when we call a payment off ------------------------------------------


class RecordingHttp:
    """Answers every call with `answer` and keeps what was sent."""

    def __init__(self, answer: dict[str, Any]) -> None:
        self.answer = answer
        self.sent: list[dict[str, Any]] = []

    async def request(self, provider: str, method: str, url: str, **fields: Any) -> Any:
        self.sent.append({"method": method, "url": url, **fields})
        return HttpResponse(200, {}, json.dumps(self.answer).encode())


@pytest.mark.parametrize(("reason", "sent"), [
    (CancellationReason.FRAUDULENT.value, "fraudulent"),
    (CancellationReason.ABANDONED.value, "abandoned"),
    (CancellationReason.DUPLICATE.value, "duplicate"),
    (CancellationReason.REQUESTED_BY_CUSTOMER.value, "requested_by_customer"),
    (FailureReason.REJECTED_IN_REVIEW.value, "fraudulent"),
    (FailureReason.DEPOSIT_EXPIRED.value, "abandoned"),
])
async def test_a_cancellation_names_stripes_reason(reason: str, sent: str) -> None:
    http = RecordingHttp(intent("canceled", canceled_at=CREATED))
    stripe = StripeGateway(cast(OutboundHttp, http), "sk_test_unused", [SECRET])
    update = await stripe.cancel(ProviderCall("pi_3Nx", Money(5000, "USD"), "k", reason))
    assert update.events[0].type == EventType.CANCELLED
    [request] = http.sent
    assert request["url"].endswith("/v1/payment_intents/pi_3Nx/cancel")
    assert request["form"] == {"cancellation_reason": sent}


async def test_a_refund_that_gives_back_a_fraudulent_or_duplicate_charge_says_so() -> None:
    refund = {"id": "re_1", "object": "refund", "amount": 5000, "status": "succeeded",
              "created": CREATED, "payment_intent": "pi_3Nx"}
    for ours, theirs in ((CancellationReason.FRAUDULENT, "fraudulent"),
                         (CancellationReason.DUPLICATE, "duplicate")):
        http = RecordingHttp(refund)
        stripe = StripeGateway(cast(OutboundHttp, http), "sk_test_unused", [SECRET])
        await stripe.refund(ProviderCall("pi_3Nx", Money(5000, "USD"), "rf_1", ours.value))
        assert http.sent[0]["form"]["reason"] == theirs
    http = RecordingHttp(refund)
    stripe = StripeGateway(cast(OutboundHttp, http), "sk_test_unused", [SECRET])
    await stripe.refund(ProviderCall("pi_3Nx", Money(5000, "USD"), "rf_2", "damaged"))
    assert "reason" not in http.sent[0]["form"]  # free words are not one of Stripe's reasons
