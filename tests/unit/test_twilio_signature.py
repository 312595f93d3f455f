"""Our X-Twilio-Signature check, held to Twilio's own: every callback here is signed with the
RequestValidator of Twilio's official Python library (`twilio` on PyPI)."""

from __future__ import annotations

import pytest
from multidict import MultiDict
from twilio.request_validator import RequestValidator

from adapters.messaging.twilio import STATUSES, TwilioStatusCallbacks, twilio_signature
from domain.errors import InvalidSignature
from domain.messages import DeliveryStatus

TOKEN = "12345678901234567890123456789012"
OTHER_TOKEN = "abcdefabcdefabcdefabcdefabcdefab"
URL = "https://mall.example/v1/webhooks/twilio/status"
SID = "SM" + "a" * 32
DELIVERED = [("AccountSid", "AC" + "b" * 32), ("MessageSid", SID), ("SmsSid", SID),
             ("MessageStatus", "delivered"), ("SmsStatus", "delivered"),
             ("To", "+821012345678"), ("From", "+15005550006"), ("ApiVersion", "2010-04-01")]


def signed_by_twilio(params: list[tuple[str, str]], url: str = URL,
                     token: str = TOKEN) -> str:
    # A MultiDict, so that a name given twice reaches Twilio's code as it would from a form.
    return str(RequestValidator(token).compute_signature(url, MultiDict(params)))


@pytest.mark.parametrize("params", [
    [],
    DELIVERED,
    [("MessageStatus", "failed"), ("ErrorCode", "30003"), ("MessageSid", SID)],
    [("Body", "주문하신 상품이 발송되었습니다 ✓"), ("b", "2"), ("B", "1"), ("a", "")],
    [("MediaUrl", "https://x.example/2"), ("MediaUrl", "https://x.example/1"),
     ("MediaUrl", "https://x.example/2")],  # repeated: sorted, each value once
], ids=["empty", "delivered", "failed", "unicode-and-case", "repeated-names"])
def test_our_signature_is_twilios(params: list[tuple[str, str]]) -> None:
    assert twilio_signature(URL, params, TOKEN) == signed_by_twilio(params)


def test_a_callback_twilio_signed_is_read_as_our_status() -> None:
    callbacks = TwilioStatusCallbacks([TOKEN], URL)
    update = callbacks.read(signed_by_twilio(DELIVERED), DELIVERED)
    assert update is not None
    assert (update.provider_message_id, update.status, update.error_code) == (
        SID, DeliveryStatus.DELIVERED, "")


def test_a_failure_carries_twilios_error_code() -> None:
    params = [("MessageSid", SID), ("MessageStatus", "undelivered"), ("ErrorCode", "30005")]
    update = TwilioStatusCallbacks([TOKEN], URL).read(signed_by_twilio(params), params)
    assert update is not None and (update.status, update.error_code) == (
        DeliveryStatus.FAILED, "30005")


def test_the_url_is_signed_with_or_without_its_default_port() -> None:
    callbacks = TwilioStatusCallbacks([TOKEN], URL)
    with_port = "https://mall.example:443/v1/webhooks/twilio/status"
    assert callbacks.read(signed_by_twilio(DELIVERED, with_port), DELIVERED) is not None
    # and the other way round: we were configured with the port spelled out
    assert TwilioStatusCallbacks([TOKEN], with_port).read(
        signed_by_twilio(DELIVERED), DELIVERED) is not None


def test_during_a_rotation_either_auth_token_is_accepted() -> None:
    callbacks = TwilioStatusCallbacks([TOKEN, OTHER_TOKEN], URL)
    assert callbacks.read(signed_by_twilio(DELIVERED, token=OTHER_TOKEN), DELIVERED)


@pytest.mark.parametrize("forge", [
    lambda sig, params: (sig, [*params[:3], ("MessageStatus", "failed"), *params[4:]]),
    lambda sig, params: (sig, [*params, ("Extra", "1")]),
    lambda sig, params: (signed_by_twilio(params, token=OTHER_TOKEN), params),
    lambda sig, params: (signed_by_twilio(params, url=URL + "?x=1"), params),
    lambda sig, params: ("", params),
    lambda sig, params: ("not base64 at all", params),
], ids=["changed-status", "added-field", "other-token", "other-url", "no-signature",
        "garbage"])
def test_anything_else_is_refused(forge: object) -> None:
    signature, params = forge(signed_by_twilio(DELIVERED), DELIVERED)  # type: ignore[operator]
    with pytest.raises(InvalidSignature, match="X-Twilio-Signature"):
        TwilioStatusCallbacks([TOKEN], URL).read(signature, params)


def test_without_an_auth_token_no_callback_is_accepted() -> None:
    with pytest.raises(InvalidSignature, match="MALL_TWILIO_AUTH_TOKEN"):
        TwilioStatusCallbacks(["", ""], URL).read(twilio_signature(URL, DELIVERED, ""),
                                                  DELIVERED)


def test_inbound_messages_and_unknown_statuses_are_not_a_delivery_status() -> None:
    params = [("MessageSid", SID), ("SmsStatus", "received")]
    assert TwilioStatusCallbacks([TOKEN], URL).read(signed_by_twilio(params), params) is None
    assert {"queued", "sent", "delivered", "undelivered", "failed"} <= set(STATUSES)
