"""The Stripe gateway replayed from vcrpy cassettes, and the cassettes checked against Stripe's
own OpenAPI description: every recorded request names an operation Stripe has, sends only
parameters it declares, pins the API version and carries an idempotency key when it writes.

The scenarios below are also what `python -m tests.cassettes.record_stripe` records.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
from collections.abc import Awaitable, Callable
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
import vcr
import yaml

from adapters.http import HttpResponse, OutboundHttp
from adapters.payments.stripe import STRIPE_VERSION, StripeGateway, failure_reason
from application.ports import PaymentRequest, ProviderCall
from domain.errors import ProviderUnavailable
from domain.failures import FailureReason
from domain.money import Money
from domain.payments import EventType, Payment, PaymentStatus, PaymentUpdate
from domain.redaction import redact_card_numbers
from tests.helpers import NoAlerts, RecordingLedger

CASSETTES = Path(__file__).parent.parent / "cassettes"
SPEC_PATH = Path(os.environ.get(
    "STRIPE_OPENAPI_SPEC", "/work/shared/provider-specs/stripe_spec3_2023-09-12.yaml"))
LOCAL_API_KEY = "sk_test_local_stand_in_0c1d2e3f"
RETURN_URL = "https://mall.example/payments/stripe/return"
CUSTOMER_REF = "cref_5f0c2a9e41d7"

def load_yaml(source: Any) -> Any:
    """Safe YAML through libyaml when it is there: the 4 MB spec then loads in ~2 s."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    return yaml.load(source, Loader=loader)  # noqa: S506 - a safe loader either way


# --- scenarios, shared with the recorder ------------------------------------------------------


def payment_request(number: str, token: str, *, capture: bool = True,
                    amount: int = 5000) -> PaymentRequest:
    return PaymentRequest(
        payment_id=f"pay_stripe_{number}", order_id=f"ord_stripe_{number}",
        amount=Money(amount, "USD"), method="card", method_token=token,
        idempotency_key=f"pay_stripe_{number}.authorize", customer_reference=CUSTOMER_REF,
        capture=capture, description=f"Mall order ord_stripe_{number}")


def call(reference: str | None, amount: int, key: str, reason: str = "") -> ProviderCall:
    assert reference
    return ProviderCall(reference, Money(amount, "USD"), key, reason)


Scenario = Callable[[StripeGateway, float], Awaitable[list[PaymentUpdate]]]


async def authorize_succeeded(gateway: StripeGateway, pause: float) -> list[PaymentUpdate]:
    return [await gateway.authorize(payment_request("0001", "pm_card_visa"))]


async def authorize_declined(gateway: StripeGateway, pause: float) -> list[PaymentUpdate]:
    return [await gateway.authorize(
        payment_request("0002", "pm_card_chargeDeclinedInsufficientFunds"))]


async def authorize_requires_action(gateway: StripeGateway,
                                    pause: float) -> list[PaymentUpdate]:
    return [await gateway.authorize(payment_request("0003", "pm_card_authenticationRequired"))]


async def manual_capture(gateway: StripeGateway, pause: float) -> list[PaymentUpdate]:
    held = await gateway.authorize(payment_request("0004", "pm_card_visa", capture=False))
    captured = await gateway.capture(call(held.provider_reference, 5000,
                                          "pay_stripe_0004.capture"))
    return [held, captured]


async def cancel(gateway: StripeGateway, pause: float) -> list[PaymentUpdate]:
    held = await gateway.authorize(payment_request("0005", "pm_card_visa", capture=False))
    released = await gateway.cancel(call(held.provider_reference, 5000,
                                         "pay_stripe_0005.cancel", "rejected_in_review"))
    return [held, released]


async def partial_refunds(gateway: StripeGateway, pause: float) -> list[PaymentUpdate]:
    paid = await gateway.authorize(payment_request("0006", "pm_card_visa"))
    reference = paid.provider_reference
    first = await gateway.refund(call(reference, 1500, "rfd_0006a", "requested_by_customer"))
    second = await gateway.refund(call(reference, 2000, "rfd_0006b", "damaged in transit"))
    repeated = await gateway.refund(call(reference, 1500, "rfd_0006a", "requested_by_customer"))
    too_much = await gateway.refund(call(reference, 5000, "rfd_0006c"))
    return [paid, first, second, repeated, too_much]


async def lookup_refunded(gateway: StripeGateway, pause: float) -> list[PaymentUpdate]:
    paid = await gateway.authorize(payment_request("0007", "pm_card_visa"))
    refunded = await gateway.refund(call(paid.provider_reference, 1200, "rfd_0007a"))
    await asyncio.sleep(pause)
    assert paid.provider_reference
    return [paid, refunded, await gateway.lookup(paid.provider_reference)]


async def lookup_disputed(gateway: StripeGateway, pause: float) -> list[PaymentUpdate]:
    paid = await gateway.authorize(payment_request("0008", "pm_card_createDispute"))
    await asyncio.sleep(pause)  # Stripe opens the test dispute a few seconds after the charge
    assert paid.provider_reference
    return [paid, await gateway.lookup(paid.provider_reference)]


SCENARIOS: dict[str, Scenario] = {
    "authorize_succeeded": authorize_succeeded,
    "authorize_declined": authorize_declined,
    "authorize_requires_action": authorize_requires_action,
    "manual_capture": manual_capture,
    "cancel": cancel,
    "partial_refunds": partial_refunds,
    "lookup_refunded": lookup_refunded,
    "lookup_disputed": lookup_disputed,
}


def cassette_name(scenario: str) -> str:
    return f"stripe_{scenario}.yaml"


def scrub_response(response: dict[str, Any]) -> dict[str, Any]:
    """Keep client secrets (PaymentIntent, 3-D Secure source) and cookies out of the cassette:
    Stripe also puts them into the query of a `redirect_to_url`."""
    response["headers"] = {name: value for name, value in response["headers"].items()
                           if name.lower() != "set-cookie"}
    raw = response.get("body", {}).get("string")
    if raw:
        text = raw.decode() if isinstance(raw, bytes) else raw
        scrubbed = re.sub(r'("client_secret":\s*)"[^"]*"', r'\1"[filtered]"', text)
        scrubbed = re.sub(r"\b[a-z]+_[A-Za-z0-9]+_secret_[A-Za-z0-9]+", "[filtered]", scrubbed)
        response["body"]["string"] = scrubbed.encode() if isinstance(raw, bytes) else scrubbed
        for name in response["headers"]:
            if name.lower() == "content-length":
                response["headers"][name] = [str(len(scrubbed.encode()))]
    return response


def stripe_vcr(record_mode: str = "none") -> vcr.VCR:
    return vcr.VCR(
        cassette_library_dir=str(CASSETTES), record_mode=record_mode,
        match_on=["method", "scheme", "host", "port", "path", "query", "body"],
        filter_headers=[("authorization", "Bearer [filtered]")],
        before_record_response=scrub_response,
    )


Ledger, Alerts = RecordingLedger, NoAlerts


async def play(scenario: str, base_url: str, api_key: str,
               pause: float = 0.0) -> tuple[list[PaymentUpdate], Ledger]:
    """Run one scenario through a real StripeGateway (inside a cassette when one is active)."""
    ledger = Ledger()
    http = OutboundHttp(ledger, Alerts(), timeout_seconds=20, retries=0, breaker_threshold=5,
                        breaker_ttl_seconds=30)
    gateway = StripeGateway(http, api_key, ["whsec_unused"], base_url=base_url,
                            return_url=RETURN_URL)
    try:
        return await SCENARIOS[scenario](gateway, pause), ledger
    finally:
        await http.close()


# --- replaying the cassettes ------------------------------------------------------------------


def recorded_base_url(scenario: str) -> str:
    """Where the cassette was recorded (the stand-in or api.stripe.com)."""
    text = (CASSETTES / cassette_name(scenario)).read_text()
    uri = load_yaml(text)["interactions"][0]["request"]["uri"]
    parts = urlsplit(uri)
    return f"{parts.scheme}://{parts.netloc}"


async def replay(scenario: str) -> tuple[list[PaymentUpdate], Ledger]:
    with stripe_vcr().use_cassette(cassette_name(scenario)) as cassette:
        result = await play(scenario, recorded_base_url(scenario), LOCAL_API_KEY)
        assert cassette.all_played
    return result


def only(update: PaymentUpdate) -> tuple[EventType, int | None]:
    [event] = update.events
    assert event.occurred_at and event.occurred_at > 1.6e9
    return event.type, event.amount


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


# --- the answers no cassette holds ------------------------------------------------------------


class CannedHttp:
    """Answers every request with one canned response, as OutboundHttp returns it."""

    def __init__(self, status: int, body: Any) -> None:
        self.response = HttpResponse(status, {"Date": "Thu, 26 Nov 2026 05:29:57 GMT"},
                                     json.dumps(body).encode())

    async def request(self, *args: Any, **kwargs: Any) -> HttpResponse:
        return self.response


def canned_gateway(status: int, body: Any) -> StripeGateway:
    return StripeGateway(CannedHttp(status, body), LOCAL_API_KEY, [])  # type: ignore[arg-type]


@pytest.mark.parametrize(("status", "error", "sent"), [
    (429, {"type": "invalid_request_error", "code": "rate_limit"}, True),
    (500, {"type": "api_error"}, True),
    (409, {"type": "idempotency_error"}, True),
    (400, {"type": "idempotency_error", "message": "Keys for idempotent requests..."}, True),
    (401, {"type": "invalid_request_error", "message": "Invalid API Key provided"}, False),
])
async def test_answers_that_say_not_now_raise(status: int, error: dict[str, Any],
                                              sent: bool) -> None:
    with pytest.raises(ProviderUnavailable) as raised:
        await canned_gateway(status, {"error": error}).authorize(
            payment_request("0009", "pm_card_visa"))
    assert raised.value.request_sent is sent


async def test_an_invalid_request_is_a_failure_we_caused() -> None:
    update = await canned_gateway(400, {"error": {
        "type": "invalid_request_error", "code": "parameter_invalid_integer",
        "param": "amount"}}).authorize(payment_request("0010", "pm_card_visa"))
    assert only(update) == (EventType.FAILED, None)
    assert update.failure_code == FailureReason.INVALID_REQUEST.value


async def test_a_refused_capture_still_reports_what_stripe_knows() -> None:
    update = await canned_gateway(400, {"error": {
        "type": "invalid_request_error", "code": "payment_intent_unexpected_state",
        "payment_intent": {"id": "pi_x", "object": "payment_intent", "status": "succeeded",
                           "amount": 5000, "amount_received": 5000, "created": 1764135000,
                           "metadata": {"payment_id": "pay_1"}},
    }}).capture(call("pi_x", 5000, "pay_1.capture"))
    assert {e.type for e in update.events} == {EventType.CAPTURED, EventType.FAILED}
    assert (update.provider_reference, update.merchant_reference) == ("pi_x", "pay_1")


@pytest.mark.parametrize(("error", "reason"), [
    ({"type": "card_error", "code": "card_declined", "decline_code": "insufficient_funds"},
     FailureReason.INSUFFICIENT_FUNDS),
    ({"type": "card_error", "code": "expired_card"}, FailureReason.EXPIRED_CARD),
    ({"type": "card_error", "code": "incorrect_cvc"}, FailureReason.INCORRECT_CARD_DETAILS),
    ({"type": "card_error", "code": "invalid_expiry_year"},
     FailureReason.INCORRECT_CARD_DETAILS),
    ({"type": "card_error", "code": "card_declined", "decline_code": "authentication_required"},
     FailureReason.AUTHENTICATION_REQUIRED),
    ({"type": "card_error", "code": "card_declined",
      "decline_code": "withdrawal_count_limit_exceeded"}, FailureReason.LIMIT_EXCEEDED),
    ({"type": "card_error", "code": "card_declined", "decline_code": "stolen_card"},
     FailureReason.SUSPECTED_FRAUD),
    ({"type": "card_error", "code": "processing_error"}, FailureReason.PROCESSING_ERROR),
    ({"type": "card_error", "code": "card_declined", "decline_code": "do_not_honor"},
     FailureReason.DECLINED),
    ({"type": "invalid_request_error", "code": "resource_missing"},
     FailureReason.INVALID_REQUEST),
])
def test_stripe_codes_map_to_our_reasons(error: dict[str, str], reason: FailureReason) -> None:
    assert failure_reason(error) is reason


# --- the cassettes against Stripe's own description -------------------------------------------


@cache
def stripe_spec() -> dict[str, Any]:
    """The official description; where it is not at hand, the committed extract of the
    operations we call (tests/cassettes/extract_stripe_spec.py), copied from it verbatim."""
    if not SPEC_PATH.exists():
        subset: dict[str, Any] = json.loads((CASSETTES / "stripe_openapi_subset.json").read_text())
        return subset
    with SPEC_PATH.open("rb") as handle:
        spec: dict[str, Any] = load_yaml(handle)
    return spec


def test_the_committed_extract_matches_the_official_description() -> None:
    subset = json.loads((CASSETTES / "stripe_openapi_subset.json").read_text())
    if not SPEC_PATH.exists():
        pytest.skip(f"the official description is not at {SPEC_PATH}")
    full = stripe_spec()
    assert subset["info"]["version"] == full["info"]["version"]
    for path, item in subset["paths"].items():
        assert full["paths"][path] == item, path


def spec_operation(spec: dict[str, Any], method: str, path: str) -> dict[str, Any] | None:
    templates = sorted(spec["paths"], key=lambda template: template.count("{"))
    for template in templates:
        pattern = "^" + re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(template)) + "$"
        operation = spec["paths"][template].get(method.lower())
        if operation is not None and re.match(pattern, path):
            return dict(operation)
    return None


def recorded_requests() -> list[tuple[str, dict[str, Any]]]:
    requests = []
    for path in sorted(CASSETTES.glob("stripe_*.yaml")):
        for interaction in load_yaml(path.read_text())["interactions"]:
            requests.append((path.name, interaction["request"]))
    return requests


def form_of(body: Any) -> dict[str, str]:
    if body is None or body == "":
        return {}
    if isinstance(body, dict):
        return {str(k): str(v) for k, v in body.items()}
    text = body.decode() if isinstance(body, bytes) else str(body)
    return dict(parse_qsl(text, keep_blank_values=True))


def header(request: dict[str, Any], name: str) -> str | None:
    for key, values in (request.get("headers") or {}).items():
        if key.lower() == name.lower():
            return str(values[0] if isinstance(values, list) else values)
    return None


def test_every_scenario_has_its_cassette() -> None:
    recorded = {path.name for path in CASSETTES.glob("stripe_*.yaml")}
    assert recorded == {cassette_name(scenario) for scenario in SCENARIOS}


def test_the_pinned_version_is_the_spec_version() -> None:
    assert STRIPE_VERSION == stripe_spec()["info"]["version"]


def test_every_recorded_request_is_one_stripe_declares() -> None:
    spec = stripe_spec()
    requests = recorded_requests()
    assert len(requests) >= len(SCENARIOS)
    for cassette, request in requests:
        where = f"{cassette}: {request['method']} {request['uri']}"
        parts = urlsplit(request["uri"])
        operation = spec_operation(spec, request["method"], parts.path)
        assert operation is not None, f"{where}: no such operation in the spec"
        query_names = {p["name"] for p in operation.get("parameters", [])
                       if p.get("in") == "query"}
        for key, _ in parse_qsl(parts.query, keep_blank_values=True):
            assert key.split("[", 1)[0] in query_names, f"{where}: undeclared query {key}"
        form = form_of(request.get("body"))
        content = (operation.get("requestBody") or {}).get("content", {})
        schema = content.get("application/x-www-form-urlencoded", {}).get("schema", {})
        properties = schema.get("properties") or {}
        for key, value in form.items():
            name = key.split("[", 1)[0]
            assert name in properties, f"{where}: undeclared parameter {key}"
            enum = properties[name].get("enum")
            assert name != key or not enum or value in enum, f"{where}: {key}={value}"
        for name in schema.get("required") or []:
            assert any(key.split("[", 1)[0] == name for key in form), f"{where}: no {name}"
        assert header(request, "Stripe-Version") == spec["info"]["version"], where
        if request["method"] == "POST":
            assert header(request, "Idempotency-Key"), f"{where}: no Idempotency-Key"
            assert not form or isinstance(request.get("body"), dict | str | bytes)


def test_no_cassette_holds_a_key_a_card_number_or_a_security_code() -> None:
    cassettes = sorted(CASSETTES.glob("stripe_*.yaml"))
    assert cassettes
    for path in cassettes:
        text = path.read_text()
        assert LOCAL_API_KEY not in text, path.name
        assert not re.search(r"\b(sk|rk)_(test|live)_[0-9A-Za-z]{6,}", text), path.name
        assert not re.search(r"\bwhsec_[0-9A-Za-z]{6,}", text), path.name
        assert "Bearer [filtered]" in text, path.name
        assert "_secret_" not in text, path.name  # client secrets are filtered too
        # A card number: 13-19 digits (separators allowed) passing the Luhn check.
        assert redact_card_numbers(text) == text, f"{path.name} holds a card number"
        assert not re.search(r"(?i)\b(cvc|cvv|cvc2)\]?['\"]?\s*[:=]\s*['\"]?\d{3,4}\b", text), \
            f"{path.name} holds a security code"
    for cassette, request in recorded_requests():
        for key in form_of(request.get("body")):
            assert not re.search(r"\[(number|cvc|exp_month|exp_year)\]", key), (cassette, key)
