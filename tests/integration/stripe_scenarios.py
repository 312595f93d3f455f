"""The Stripe scenarios the replay tests run and `python -m tests.cassettes.record_stripe`
records, the cassettes' configuration, and running a scenario through a real StripeGateway."""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import vcr
import yaml

from adapters.payments.stripe import StripeGateway
from application.ports import PaymentRequest, ProviderCall
from domain.money import Money
from domain.payments import EventType, PaymentUpdate
from tests.helpers import RecordingLedger
from tests.integration.cassette_filters import blank_json_fields, rewrite_body, without_cookies
from tests.integration.replay_http import replaying_http

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

    def scrubbed(text: str) -> str:
        text = blank_json_fields(text, ("client_secret",), "[filtered]")
        return re.sub(r"\b[a-z]+_[A-Za-z0-9]+_secret_[A-Za-z0-9]+", "[filtered]", text)

    return rewrite_body(without_cookies(response), scrubbed)


def stripe_vcr(record_mode: str = "none") -> vcr.VCR:
    return vcr.VCR(
        cassette_library_dir=str(CASSETTES), record_mode=record_mode,
        match_on=["method", "scheme", "host", "port", "path", "query", "body"],
        filter_headers=[("authorization", "Bearer [filtered]")],
        before_record_response=scrub_response,
    )


async def play(scenario: str, base_url: str, api_key: str,
               pause: float = 0.0) -> tuple[list[PaymentUpdate], RecordingLedger]:
    """Run one scenario through a real StripeGateway (inside a cassette when one is active)."""
    ledger = RecordingLedger()
    async with replaying_http(ledger, timeout_seconds=20) as http:
        gateway = StripeGateway(http, api_key, ["whsec_unused"], base_url=base_url,
                                return_url=RETURN_URL)
        return await SCENARIOS[scenario](gateway, pause), ledger


def recorded_base_url(scenario: str) -> str:
    """Where the cassette was recorded (the stand-in or api.stripe.com)."""
    text = (CASSETTES / cassette_name(scenario)).read_text()
    uri = load_yaml(text)["interactions"][0]["request"]["uri"]
    parts = urlsplit(uri)
    return f"{parts.scheme}://{parts.netloc}"


async def replay(scenario: str) -> tuple[list[PaymentUpdate], RecordingLedger]:
    with stripe_vcr().use_cassette(cassette_name(scenario)) as cassette:
        result = await play(scenario, recorded_base_url(scenario), LOCAL_API_KEY)
        assert cassette.all_played
    return result


def only(update: PaymentUpdate) -> tuple[EventType, int | None]:
    """The one event of an update, as (type, amount)."""
    [event] = update.events
    assert event.occurred_at and event.occurred_at > 1.6e9
    return event.type, event.amount
