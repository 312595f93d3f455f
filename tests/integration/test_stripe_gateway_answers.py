"""The Stripe gateway on answers no cassette holds: what says "not now", what is a failure
we caused, and how Stripe's error codes map to our failure reasons."""

from __future__ import annotations

import json
from typing import Any

import pytest

from adapters.http import HttpResponse
from adapters.payments.stripe import StripeGateway, failure_reason
from domain.errors import ProviderUnavailable
from domain.failures import FailureReason
from domain.payments import EventType
from tests.integration.stripe_scenarios import (
    LOCAL_API_KEY,
    call,
    only,
    payment_request,
)


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
