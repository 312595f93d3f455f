"""The Stripe gateway replayed from vcrpy cassettes: deterministic, no network. The scenarios
are also what `python -m tests.cassettes.record_stripe` records (tests/integration/
stripe_scenarios.py).
"""

from __future__ import annotations

import json

from adapters.payments.stripe import STRIPE_VERSION
from domain.failures import FailureReason
from domain.money import Money
from domain.payments import EventType, Payment, PaymentStatus
from tests.integration.stripe_scenarios import (
    CASSETTES,
    CUSTOMER_REF,
    LOCAL_API_KEY,
    RETURN_URL,
    SCENARIOS,
    cassette_name,
    only,
    play,
    recorded_base_url,
    replay,
    stripe_vcr,
)


def new_payment(number: str, capture: str = "automatic") -> Payment:
    return Payment(f"pay_stripe_{number}", f"ord_stripe_{number}", "cus_1", "stripe",
                   Money(5000, "USD"), "card", f"pay_stripe_{number}.authorize",
                   capture=capture)


async def test_an_authorized_card_payment_is_captured() -> None:
    [update], ledger = await replay("authorize_succeeded")
    assert only(update) == (EventType.CAPTURED, 5000)
    assert update.provider_reference and update.provider_reference.startswith("pi_")
    assert update.merchant_reference == "pay_stripe_0001"
    assert update.failure_code is None and update.next_action is None
    [exchange] = ledger.drafts
    assert exchange.payload["request"]["path"] == "/v1/payment_intents"
    assert exchange.payload["request"]["body"] == {
        "amount": "5000", "currency": "usd", "payment_method": "pm_card_visa",
        "payment_method_types[0]": "card", "confirm": "true", "capture_method": "automatic",
        "metadata[payment_id]": "pay_stripe_0001", "metadata[order_id]": "ord_stripe_0001",
        "metadata[customer_ref]": CUSTOMER_REF, "description": "Mall order ord_stripe_0001",
        "return_url": RETURN_URL,
    }
    headers = exchange.payload["request"]["headers"]
    assert headers["Stripe-Version"] == STRIPE_VERSION
    assert headers["Idempotency-Key"] == "pay_stripe_0001.authorize"


async def test_the_evidence_of_an_exchange_keeps_no_api_key() -> None:
    _, ledger = await replay("authorize_succeeded")
    context, payload, _ = ledger.drafts[0].redacted()
    stored = json.dumps([context, payload])
    assert LOCAL_API_KEY not in stored and "Bearer" not in stored
    assert "_secret_" not in stored  # the PaymentIntent's client secret


async def test_a_declined_card_is_a_failed_update_with_our_reason() -> None:
    [update], _ = await replay("authorize_declined")
    assert only(update) == (EventType.FAILED, None)
    assert update.failure_code == FailureReason.INSUFFICIENT_FUNDS.value
    # The PaymentIntent exists at Stripe even though the card was declined.
    assert update.provider_reference and update.provider_reference.startswith("pi_")
    assert update.merchant_reference == "pay_stripe_0002"


async def test_3d_secure_sends_the_customer_to_the_bank() -> None:
    [update], _ = await replay("authorize_requires_action")
    assert only(update) == (EventType.ACTION_REQUIRED, None)
    assert update.next_action is not None
    assert update.next_action["type"] == "redirect_to_url"
    assert update.next_action["url"].startswith(("http://", "https://"))
    payment = new_payment("0003")
    payment.apply(update)
    assert payment.status == PaymentStatus.REQUIRES_ACTION
    assert payment.next_action == update.next_action


async def test_a_held_payment_is_captured_later() -> None:
    [held, captured], _ = await replay("manual_capture")
    assert only(held) == (EventType.AUTHORIZED, 5000)
    assert only(captured) == (EventType.CAPTURED, 5000)
    assert held.provider_reference == captured.provider_reference
    payment = new_payment("0004", capture="manual")
    payment.apply(held)
    assert (payment.status, payment.authorized) == (PaymentStatus.AUTHORIZED, 5000)
    payment.apply(captured)
    assert (payment.status, payment.captured) == (PaymentStatus.CAPTURED, 5000)


async def test_a_held_payment_is_released() -> None:
    with stripe_vcr().use_cassette(cassette_name("cancel")) as cassette:
        [held, released], _ = await play("cancel", recorded_base_url("cancel"), LOCAL_API_KEY)
    assert only(held) == (EventType.AUTHORIZED, 5000)
    assert only(released) == (EventType.CANCELLED, None)
    # Our "rejected in review" is Stripe's "fraudulent", which also teaches Radar.
    assert cassette.requests[1].body == {"cancellation_reason": "fraudulent"}
    payment = new_payment("0005", capture="manual")
    payment.apply(held)
    payment.apply(released)
    assert (payment.status, payment.authorized) == (PaymentStatus.CANCELLED, 0)


async def test_partial_refunds_settle_our_refund_requests() -> None:
    with stripe_vcr().use_cassette(cassette_name("partial_refunds")) as cassette:
        updates, _ = await play("partial_refunds", recorded_base_url("partial_refunds"),
                                LOCAL_API_KEY)
    paid, first, second, repeated, too_much = updates
    assert only(first) == (EventType.REFUNDED, 1500)
    assert only(second) == (EventType.REFUNDED, 2000)
    assert first.events[0].reference.startswith("re_")
    assert first.events[0].settles == "rfd_0006a" and second.events[0].settles == "rfd_0006b"
    # The same key is the same refund: Stripe answers it again instead of refunding twice.
    assert repeated.events == first.events
    replayed = {k.lower(): v for k, v in cassette.responses[3]["headers"].items()}
    assert replayed.get("idempotent-replayed") == ["true"]
    # A reason outside Stripe's enum is not sent.
    assert cassette.requests[1].body["reason"] == "requested_by_customer"
    assert "reason" not in cassette.requests[2].body
    assert cassette.requests[1].body["metadata[refund_id]"] == "rfd_0006a"
    [failed] = too_much.events
    assert (failed.type, failed.reference) == (EventType.REFUND_FAILED, "rfd_0006c")
    assert too_much.failure_code == FailureReason.INVALID_REQUEST.value

    payment = new_payment("0006")
    payment.apply(paid)
    payment.request_refund("rfd_0006a", 1500)
    payment.request_refund("rfd_0006b", 2000)
    for update in (first, second, repeated):
        payment.apply(update)
    assert (payment.status, payment.refunded, payment.refund_pending) == (
        PaymentStatus.PARTIALLY_REFUNDED, 3500, 0)


async def test_lookup_reports_the_running_refund_total() -> None:
    [paid, refunded, looked_up], _ = await replay("lookup_refunded")
    assert only(refunded) == (EventType.REFUNDED, 1200)
    assert looked_up.provider_reference == paid.provider_reference
    assert looked_up.merchant_reference == "pay_stripe_0007"
    facts = {(e.type, e.amount, e.running_total) for e in looked_up.events}
    assert facts == {(EventType.CAPTURED, 5000, False), (EventType.REFUNDED, 1200, True)}
    payment = new_payment("0007")
    payment.apply(looked_up)
    assert (payment.status, payment.refunded) == (PaymentStatus.PARTIALLY_REFUNDED, 1200)


async def test_lookup_reports_disputes() -> None:
    [_, looked_up], _ = await replay("lookup_disputed")
    by_type = {e.type: e for e in looked_up.events}
    assert set(by_type) == {EventType.CAPTURED, EventType.DISPUTE_OPENED}
    opened = by_type[EventType.DISPUTE_OPENED]
    assert opened.reference.startswith("dp_") and opened.amount == 5000
    payment = new_payment("0008")
    payment.apply(looked_up)
    assert (payment.status, payment.disputed) == (PaymentStatus.DISPUTED, 5000)


def test_every_scenario_has_its_cassette() -> None:
    recorded = {path.name for path in CASSETTES.glob("stripe_*.yaml")}
    assert recorded == {cassette_name(scenario) for scenario in SCENARIOS}
