"""The whole way through the app with Twilio and FCM as the SMS and push providers (their
stand-ins, built from Twilio's OpenAPI description and Google's documentation): a device FCM
says is gone is removed and the message falls back to SMS, Twilio's signed status callback then
moves the delivery on (a forged one does not), and a STOP reply records the opt-out."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from multidict import MultiDict
from twilio.request_validator import RequestValidator

from domain.commands import SendNotification
from domain.messages import DeliveryStatus
from tests.e2e.conftest import Shop
from tests.integration.fcm_standin import FcmStandIn, service_account_key
from tests.integration.twilio_standin import TwilioStandIn

ACCOUNT = "AC" + "0123456789abcdef" * 2
TOKEN = "e2e-twilio-auth-token-0123456789"
DEVICE = "fcm:APA91bH-e2e_gone-device.0123456789"
CALLBACK = "/v1/webhooks/twilio/status"


async def providers_shop(shop_factory: Callable[..., Any], aiohttp_server: Any,
                         tmp_path: Path) -> tuple[Shop, TwilioStandIn, FcmStandIn]:
    twilio, fcm = TwilioStandIn(TOKEN), FcmStandIn()
    twilio_server = await aiohttp_server(twilio.application())
    fcm_server = await aiohttp_server(fcm.application())
    info, fcm.public_key_pem = service_account_key(str(fcm_server.make_url("/token")))
    key_file = tmp_path / "fcm-key.json"
    key_file.write_text(json.dumps(info))
    shop = await shop_factory(
        sms_providers=["twilio"], push_providers=["fcm"], twilio_account_sid=ACCOUNT,
        twilio_auth_token=TOKEN, twilio_from="+15005550006",
        twilio_base_url=str(twilio_server.make_url("")).rstrip("/"),
        fcm_service_account_file=str(key_file),
        fcm_base_url=str(fcm_server.make_url("")).rstrip("/"))
    return shop, twilio, fcm


async def customer_with_phone(shop: Shop, phone: str) -> tuple[str, dict[str, str]]:
    auth = await shop.sign_up()
    response = await shop.client.patch("/v1/me/contact", headers=auth, json={"phone": phone})
    assert response.status == 200, await response.text()
    me = await (await shop.client.get("/v1/me", headers=auth)).json()
    return str(me["id"]), auth


async def delivery_status(shop: Shop, message_id: str) -> tuple[str, str, str]:
    async with shop.container.uow()(read_only=True) as uow:
        delivery = await uow.messages.deliveries.get(message_id)
    assert delivery is not None
    return delivery.status.value, delivery.provider, delivery.provider_message_id


def signed_callback(shop: Shop, sid: str, status: str,
                    token: str = TOKEN) -> tuple[list[tuple[str, str]], dict[str, str]]:
    params = [("AccountSid", ACCOUNT), ("MessageSid", sid), ("SmsSid", sid),
              ("MessageStatus", status), ("SmsStatus", status), ("ApiVersion", "2010-04-01")]
    url = f"{shop.container.config.base_url()}{CALLBACK}"
    signature = RequestValidator(token).compute_signature(url, MultiDict(params))
    return params, {"X-Twilio-Signature": signature,
                    "Content-Type": "application/x-www-form-urlencoded"}


async def test_a_gone_device_is_removed_the_sms_goes_out_and_its_callback_counts(
        shop_factory: Callable[..., Any], aiohttp_server: Any, tmp_path: Path) -> None:
    shop, twilio, fcm = await providers_shop(shop_factory, aiohttp_server, tmp_path)
    customer_id, auth = await customer_with_phone(shop, "+821012345678")
    response = await shop.client.post("/v1/me/devices", headers=auth,
                                      json={"token": DEVICE, "platform": "android"})
    assert response.status == 201
    fcm.unregistered.add(DEVICE)

    await shop.container.messaging().send(SendNotification(
        template="shipment_out_for_delivery", customer_id=customer_id,
        params={"order_id": "ord_e2e"}), "msg_e2e_1")

    assert fcm.refusals == [] and len(fcm.assertions) == 1  # a valid bearer token was used
    async with shop.container.uow()(read_only=True) as uow:
        assert await uow.devices.of_customer(customer_id) == []  # UNREGISTERED removed it
    assert twilio.violations == [] and len(twilio.created) == 1
    sent = twilio.created[0]
    assert sent["To"] == "+821012345678"
    assert sent["StatusCallback"] == f"{shop.container.config.base_url()}{CALLBACK}"
    status, provider, sid = await delivery_status(shop, "msg_e2e_1")
    assert (status, provider) == ("queued", "twilio") and sid.startswith("SM")

    # A callback signed with another account's token changes nothing.
    params, headers = signed_callback(shop, sid, "delivered",
                                      token="someone-else-token-0123456789abc")
    response = await shop.client.post(CALLBACK, data=params, headers=headers)
    assert response.status == 400
    assert (await delivery_status(shop, "msg_e2e_1"))[0] == "queued"

    for twilio_status, ours in (("sent", "sent"), ("delivered", "delivered")):
        params, headers = signed_callback(shop, sid, twilio_status)
        response = await shop.client.post(CALLBACK, data=params, headers=headers)
        assert response.status == 200 and await response.json() == {"status": "recorded"}
        assert (await delivery_status(shop, "msg_e2e_1"))[0] == ours
    # Twilio repeats a callback, or a late "sent" arrives: acknowledged, nothing moves back.
    params, headers = signed_callback(shop, sid, "sent")
    response = await shop.client.post(CALLBACK, data=params, headers=headers)
    assert await response.json() == {"status": "ignored"}
    assert (await delivery_status(shop, "msg_e2e_1"))[0] == DeliveryStatus.DELIVERED.value


async def test_a_stop_reply_records_the_opt_out(
        shop_factory: Callable[..., Any], aiohttp_server: Any, tmp_path: Path) -> None:
    shop, twilio, _ = await providers_shop(shop_factory, aiohttp_server, tmp_path)
    # Twilio's test number for a recipient who replied STOP: error 21610.
    customer_id, auth = await customer_with_phone(shop, "+15005550004")
    response = await shop.client.put("/v1/me/consents", headers=auth,
                                     json={"consents": {"marketing_sms": True}})
    assert response.status == 200, await response.text()

    await shop.container.messaging().send(SendNotification(
        template="shipment_out_for_delivery", customer_id=customer_id,
        params={"order_id": "ord_e2e"}), "msg_e2e_2")

    assert twilio.violations == [] and twilio.created == []
    consents = await (await shop.client.get("/v1/me/consents", headers=auth)).json()
    assert consents["consents"]["marketing_sms"] is False
    async with shop.container.uow()(read_only=True) as uow:
        changes = [r for r in await uow.evidence.of_subject(f"customer:{customer_id}", 100)
                   if r.kind == "consent.changed"]
    assert changes and changes[-1].source == "provider:twilio"
