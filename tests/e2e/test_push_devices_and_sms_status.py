"""Through the HTTP app: a customer's push devices, and Twilio's status callbacks (signed with
the RequestValidator of Twilio's own library) verified before they reach delivery status."""

from __future__ import annotations

from typing import Any

from multidict import MultiDict
from twilio.request_validator import RequestValidator

from domain.messages import DeliveryStatus
from tests.e2e.conftest import Shop

TOKEN = "e2e-auth-token-0123456789abcdef0"
DEVICE = "fcm:APA91bH-e2e_registration-token.0123456789"
SID = "SM" + "c" * 32
FORM = "application/x-www-form-urlencoded"


async def devices_of(shop: Shop, auth: dict[str, str]) -> list[Any]:
    customer = await (await shop.client.get("/v1/me", headers=auth)).json()
    async with shop.container.uow()(read_only=True) as uow:
        return await uow.devices.of_customer(customer["id"])


async def test_a_customer_registers_and_removes_a_device(shop: Shop) -> None:
    auth = await shop.sign_up()
    response = await shop.client.post("/v1/me/devices", headers=auth,
                                      json={"token": DEVICE, "platform": "android"})
    assert response.status == 201, await response.text()
    body = await response.json()
    assert body["platform"] == "android" and DEVICE not in str(body)
    assert [(d.token, d.platform) for d in await devices_of(shop, auth)] == [
        (DEVICE, "android")]
    # Registered again after another person signed in on the same phone: theirs now.
    other = await shop.sign_up()
    response = await shop.client.post("/v1/me/devices", headers=other,
                                      json={"token": DEVICE, "platform": "android"})
    assert response.status == 201
    assert await devices_of(shop, auth) == []
    response = await shop.client.delete(f"/v1/me/devices/{DEVICE}", headers=auth)
    assert response.status == 404  # not theirs any more: nothing is removed
    assert len(await devices_of(shop, other)) == 1
    response = await shop.client.delete(f"/v1/me/devices/{DEVICE}", headers=other)
    assert response.status == 204
    assert await devices_of(shop, other) == []


async def test_a_device_needs_a_sign_in_and_a_well_formed_token(shop: Shop) -> None:
    response = await shop.client.post("/v1/me/devices",
                                      json={"token": DEVICE, "platform": "android"})
    assert response.status == 401
    auth = await shop.sign_up()
    for body in ({"token": DEVICE, "platform": "blackberry"},
                 {"token": "has spaces and <html>", "platform": "ios"},
                 {"token": "x" * 513, "platform": "ios"}, {"platform": "ios"}):
        response = await shop.client.post("/v1/me/devices", headers=auth, json=body)
        assert response.status == 422, body
        assert "application/problem+json" in response.headers["Content-Type"]


class Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str, DeliveryStatus, str]] = []

    async def record_status(self, provider: str, provider_message_id: str,
                            status: DeliveryStatus, error_code: str = "") -> bool:
        self.calls.append((provider, provider_message_id, status, error_code))
        return True


def signed(shop: Shop, params: list[tuple[str, str]], token: str = TOKEN) -> dict[str, str]:
    url = f"{shop.container.config.base_url()}/v1/webhooks/twilio/status"
    signature = RequestValidator(token).compute_signature(url, MultiDict(params))
    return {"X-Twilio-Signature": signature, "Content-Type": FORM}


def callback(status: str, error_code: str = "") -> list[tuple[str, str]]:
    params = [("AccountSid", "AC" + "d" * 32), ("MessageSid", SID), ("SmsSid", SID),
              ("MessageStatus", status), ("SmsStatus", status), ("To", "+821012345678"),
              ("From", "+15005550006"), ("ApiVersion", "2010-04-01")]
    return params + ([("ErrorCode", error_code)] if error_code else [])


async def test_genuine_status_callbacks_reach_delivery_status_and_forged_ones_do_not(
        shop_factory: Any) -> None:
    shop = await shop_factory(twilio_auth_token=TOKEN)
    recorder = Recorder()
    with shop.container.messaging.override(recorder):
        params = callback("delivered")
        response = await shop.client.post("/v1/webhooks/twilio/status",
                                          data=params, headers=signed(shop, params))
        assert response.status == 200, await response.text()
        assert await response.json() == {"status": "recorded"}
        params = callback("undelivered", "30005")
        response = await shop.client.post("/v1/webhooks/twilio/status",
                                          data=params, headers=signed(shop, params))
        assert response.status == 200
        assert recorder.calls == [("twilio", SID, DeliveryStatus.DELIVERED, ""),
                                  ("twilio", SID, DeliveryStatus.FAILED, "30005")]

        forged = callback("delivered")
        for headers in (signed(shop, forged, token="another-account-token-000000000"),
                        signed(shop, callback("failed")), {"Content-Type": FORM}):
            response = await shop.client.post("/v1/webhooks/twilio/status", data=forged,
                                              headers=headers)
            assert response.status == 400
            problem = await response.json()
            assert "X-Twilio-Signature" in problem["detail"]
        response = await shop.client.post("/v1/webhooks/twilio/status", json={"x": 1},
                                          headers={"X-Twilio-Signature": "x"})
        assert response.status == 415
    assert len(recorder.calls) == 2


async def test_without_an_auth_token_every_callback_is_refused(shop: Shop) -> None:
    params = callback("delivered")
    response = await shop.client.post("/v1/webhooks/twilio/status", data=params,
                                      headers=signed(shop, params, token=""))
    assert response.status == 400
    assert "MALL_TWILIO_AUTH_TOKEN" in (await response.json())["detail"]


async def test_devices_follow_a_merge_and_go_with_an_erasure(shop: Shop) -> None:
    keeper, merged = await shop.sign_up(), await shop.sign_up()
    for auth, token in ((keeper, DEVICE), (merged, DEVICE + "-tablet")):
        response = await shop.client.post("/v1/me/devices", headers=auth,
                                          json={"token": token, "platform": "android"})
        assert response.status == 201
    response = await shop.client.post(
        "/v1/me/merge", headers=keeper,
        json={"access_token": merged["Authorization"].removeprefix("Bearer ")})
    assert response.status == 200, await response.text()
    assert (await response.json())["moved"]["push_device"] == 1
    assert sorted(d.token for d in await devices_of(shop, keeper)) == [
        DEVICE, DEVICE + "-tablet"]

    me = await (await shop.client.get("/v1/me", headers=keeper)).json()
    response = await shop.client.post("/v1/me/erasure", headers=keeper,
                                      json={"confirm": me["email"]})
    assert response.status == 200, await response.text()
    async with shop.container.uow()(read_only=True) as uow:
        assert await uow.devices.of_customer(me["id"]) == []
