"""TwilioSms against a stand-in built from Twilio's official OpenAPI description (see
twilio_standin.py): every request it makes is held to the spec, and Twilio's answers become
a receipt, a rejected recipient or an unavailable provider."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest

from adapters.http import OutboundHttp
from adapters.messaging.twilio import TwilioSms
from application.ports import Envelope, RenderedMessage
from domain.errors import ProviderUnavailable, RecipientRejected
from tests.helpers import NoAlerts, RecordingLedger
from tests.integration.twilio_standin import (
    EXTRACT,
    TwilioStandIn,
    form_violations,
    full_spec,
    load_operation,
    messages_operation,
)

ACCOUNT = "AC" + "0123456789abcdef" * 2
TOKEN = "test-auth-token-0123456789abcdef"
SERVICE = "MG" + "fedcba9876543210" * 2
OUR_NUMBER = "+15005550006"  # the From that Twilio's test credentials accept
CALLBACK = "https://mall.example/v1/webhooks/twilio/status"
TEXT = "[Mall] 주문 A-1 배송이 시작되었습니다"


@dataclass
class Setup:
    stand_in: TwilioStandIn
    sms: TwilioSms
    ledger: RecordingLedger
    base_url: str
    http: OutboundHttp


def envelope(to: str = "+821012345678") -> Envelope:
    return Envelope("msg_1", "sms", to, RenderedMessage("", TEXT))


@pytest.fixture
async def twilio(aiohttp_server: Any) -> AsyncIterator[Setup]:
    stand_in = TwilioStandIn(TOKEN)
    server = await aiohttp_server(stand_in.application())
    ledger = RecordingLedger()
    http = OutboundHttp(ledger, NoAlerts(), timeout_seconds=5, retries=2,
                        breaker_threshold=50, breaker_ttl_seconds=30)
    base = str(server.make_url("")).rstrip("/")
    sms = TwilioSms(http, ACCOUNT, TOKEN, sender=OUR_NUMBER, status_callback_url=CALLBACK,
                    base_url=base)
    yield Setup(stand_in, sms, ledger, base, http)
    await http.close()
    assert stand_in.violations == [], "a request broke Twilio's OpenAPI description"


async def test_an_sms_conforms_to_the_spec_and_comes_back_queued(twilio: Setup) -> None:
    receipt = await twilio.sms.send(envelope())
    assert receipt.provider == "twilio"
    assert receipt.provider_message_id.startswith("SM") and receipt.status == "queued"
    assert twilio.stand_in.created == [{"To": "+821012345678", "From": OUR_NUMBER,
                                        "Body": TEXT, "StatusCallback": CALLBACK}]


async def test_a_messaging_service_sends_in_place_of_our_number(twilio: Setup) -> None:
    sms = TwilioSms(twilio.http, ACCOUNT, TOKEN, messaging_service_sid=SERVICE,
                    base_url=twilio.base_url)
    await sms.send(envelope())
    assert twilio.stand_in.created == [{"To": "+821012345678", "MessagingServiceSid": SERVICE,
                                        "Body": TEXT}]


@pytest.mark.parametrize(("number", "reason"), [
    ("+15005550004", "opted_out"),  # 21610: the recipient replied STOP
    ("+15005550001", "invalid_address"),  # 21211
    ("+15005550009", "invalid_address"),  # 21614
])
async def test_twilios_recipient_errors_reject_the_recipient(
        twilio: Setup, number: str, reason: str) -> None:
    with pytest.raises(RecipientRejected) as refused:
        await twilio.sms.send(envelope(number))
    assert refused.value.reason == reason
    assert number not in refused.value.detail


async def test_a_number_that_is_not_e164_is_refused_before_anything_is_sent(
        twilio: Setup) -> None:
    with pytest.raises(RecipientRejected) as refused:
        await twilio.sms.send(envelope("010-1234-5678"))
    assert refused.value.reason == "invalid_address"
    assert twilio.ledger.drafts == []


@pytest.mark.parametrize("status", [429, 500, 503])
async def test_throttling_and_server_errors_make_the_provider_unavailable(
        twilio: Setup, status: int) -> None:
    twilio.stand_in.fail_next.append(status)
    with pytest.raises(ProviderUnavailable):
        await twilio.sms.send(envelope())
    assert twilio.stand_in.fail_next == [] and twilio.stand_in.created == []


async def test_refused_credentials_make_the_provider_unavailable(twilio: Setup) -> None:
    sms = TwilioSms(twilio.http, ACCOUNT, "another-token", sender=OUR_NUMBER,
                    base_url=twilio.base_url)
    with pytest.raises(ProviderUnavailable, match="20003") as refused:
        await sms.send(envelope())
    assert refused.value.request_sent is False  # Twilio made no message: another may try
    twilio.stand_in.violations.clear()  # the stand-in noted the missing credentials


async def test_no_number_text_or_token_reaches_the_evidence(twilio: Setup) -> None:
    await twilio.sms.send(envelope())
    kept = json.dumps([draft.redacted()[1] for draft in twilio.ledger.drafts],
                      ensure_ascii=False)
    for personal in ("+821012345678", "821012345678", TEXT, TOKEN):
        assert personal not in kept
    assert '"To": "[redacted]"' in kept and '"Body": "[redacted]"' in kept


def test_the_stand_in_refuses_what_the_spec_does_not_allow() -> None:
    operation = load_operation()
    ok = [("To", "+821012345678"), ("From", OUR_NUMBER), ("Body", "hi"),
          ("StatusCallback", CALLBACK), ("SmartEncoded", "true"), ("ValidityPeriod", "600")]
    assert form_violations(ok, operation) == []
    bad = [("To", "01012345678"), ("From", OUR_NUMBER), ("Body", "hi"),
           ("StatusCallback", "not a url"), ("SmartEncoded", "yes"), ("Colour", "red"),
           ("MessagingServiceSid", "MG123"), ("TrafficType", "spam")]
    problems = "\n".join(form_violations(bad, operation))
    for field in ("To", "StatusCallback", "SmartEncoded", "Colour", "MessagingServiceSid",
                  "TrafficType"):
        assert field in problems, field
    assert "sender is required" in "\n".join(form_violations([("To", "+15005550006"),
                                                              ("Body", "x")], operation))


def test_the_kept_extract_is_what_the_spec_says() -> None:
    spec = full_spec()
    if spec is None:
        pytest.skip("Twilio's OpenAPI description is not at hand (shared/provider-specs)")
    assert messages_operation(spec) == json.loads(EXTRACT.read_text(encoding="utf-8"))


@pytest.mark.parametrize(("settings", "complaint"), [
    ({"account_sid": "AC123"}, "MALL_TWILIO_ACCOUNT_SID"),
    ({"auth_token": ""}, "MALL_TWILIO_AUTH_TOKEN"),
    ({"sender": "01012345678"}, "MALL_TWILIO_FROM"),
    ({"sender": "", "messaging_service_sid": "MG1"}, "MALL_TWILIO_MESSAGING_SERVICE_SID"),
])
def test_settings_that_cannot_work_are_refused_with_the_variable(
        settings: dict[str, str], complaint: str) -> None:
    given: dict[str, Any] = {"account_sid": ACCOUNT, "auth_token": TOKEN,
                             "sender": OUR_NUMBER, **settings}
    with pytest.raises(ValueError, match=complaint):
        TwilioSms(None, given.pop("account_sid"), given.pop("auth_token"),  # type: ignore[arg-type]
                  **given)
