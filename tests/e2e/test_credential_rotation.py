"""Rotating providers' secrets, keys and endpoints through the admin workflow: propose,
validate, activate with an overlap, retire; a failed validation changes nothing in force and
opens an incident with an alert; every step is evidence."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web
from multidict import MultiDict
from twilio.request_validator import RequestValidator

from adapters.persistence.tables import EvidenceRecord, Incident, OutboxMessage
from adapters.signing import sign
from tests.e2e.identity_steps import admin_of
from tests.e2e.identity_steps import admin_post as step
from tests.e2e.stripe_steps import (
    SECRET,
    encoded,
    intent_object,
    paid_stripe_order,
    post_event,
    stripe_event,
)

NEW_SECRET = "whsec_stripe_e2e_rotated_in_0123"


async def rotate(shop: Any, admin: dict[str, str], provider: str, kind: str, value: str,
                 overlap_minutes: int = 60) -> dict[str, Any]:
    proposed = await step(shop, admin, f"/v1/admin/providers/{provider}/credentials",
                          {"kind": kind, "value": value}, status=201)
    assert proposed["status"] == "proposed" and value not in json.dumps(proposed)
    validated = await step(shop, admin, f"/v1/admin/credentials/{proposed['id']}/validate")
    assert validated["status"] == "validated", validated
    return await step(shop, admin, f"/v1/admin/credentials/{proposed['id']}/activate",
                      {"overlap_minutes": overlap_minutes})


async def webhook_status(shop: Any, intent: dict[str, Any], secret: str) -> int:
    body = encoded(stripe_event("payment_intent.succeeded", intent_object(intent, "succeeded")))
    response = await post_event(shop, body, sign(secret, body))
    return int(response.status)


async def test_a_stripe_webhook_secret_rotates_with_an_overlap_then_retires(
        shop_factory: Any, aiohttp_server: Any) -> None:
    shop, _, _, _, intent = await paid_stripe_order(shop_factory, aiohttp_server)
    admin = await admin_of(shop)
    assert await webhook_status(shop, intent, NEW_SECRET) == 400  # not in force yet

    active = await rotate(shop, admin, "stripe", "webhook_secret", NEW_SECRET)
    assert active["status"] == "active" and active["version"] == 1
    # The overlap: callbacks signed with the secret of the settings and with the new one.
    assert await webhook_status(shop, intent, SECRET) == 200
    assert await webhook_status(shop, intent, NEW_SECRET) == 200

    # A second rotation: the first rotated-in secret is retiring, then retired by hand.
    newest = "whsec_stripe_e2e_rotated_in_4567"
    second = await rotate(shop, admin, "stripe", "webhook_secret", newest, overlap_minutes=30)
    listed = (await (await shop.client.get("/v1/admin/providers/stripe/credentials",
                                           headers=admin)).json())["credentials"]
    assert [(c["version"], c["status"]) for c in listed] == [(2, "active"), (1, "retiring")]
    assert await webhook_status(shop, intent, NEW_SECRET) == 200
    retired = await step(shop, admin, f"/v1/admin/credentials/{active['id']}/retire")
    assert retired["status"] == "retired"
    assert await webhook_status(shop, intent, NEW_SECRET) == 400
    assert await webhook_status(shop, intent, SECRET) == 400  # its overlap ended with v1's
    assert await webhook_status(shop, intent, newest) == 200
    await step(shop, admin, f"/v1/admin/credentials/{second['id']}/retire", status=422)

    kinds = [row["kind"] for row in await EvidenceRecord.select(EvidenceRecord.kind).where(
        EvidenceRecord.subject == "provider:stripe").order_by(EvidenceRecord.id)]
    assert kinds == ["credential.proposed", "credential.validated", "credential.activated",
                     "credential.proposed", "credential.validated", "credential.retiring",
                     "credential.activated", "credential.retired"]
    stored = await EvidenceRecord.select().where(EvidenceRecord.subject == "provider:stripe")
    assert NEW_SECRET not in json.dumps(stored, default=str)


async def test_a_failed_validation_keeps_the_secret_in_force_and_alerts(
        shop_factory: Any, aiohttp_server: Any) -> None:
    shop, _, _, _, intent = await paid_stripe_order(shop_factory, aiohttp_server)
    admin = await admin_of(shop)
    # A pasted value that is no Stripe webhook secret, then an API key Stripe refuses.
    for kind, value in (("webhook_secret", "not-a-stripe-secret-at-all"),
                        ("api_key", "sk_test_refused_by_the_provider")):
        proposed = await step(shop, admin, "/v1/admin/providers/stripe/credentials",
                              {"kind": kind, "value": value}, status=201)
        rejected = await step(shop, admin, f"/v1/admin/credentials/{proposed['id']}/validate")
        assert rejected["status"] == "rejected" and rejected["reason"], rejected
        await step(shop, admin, f"/v1/admin/credentials/{proposed['id']}/activate",
                   {"overlap_minutes": 5}, status=409)
    assert await webhook_status(shop, intent, SECRET) == 200

    incidents = await Incident.select().where(Incident.kind == "credential_validation_failed")
    assert len(incidents) == 2 and {i["subject"] for i in incidents} == {"provider:stripe"}
    alerts = [json.loads(row["payload"]) for row in await OutboxMessage.select().where(
        OutboxMessage.topic == "RaiseAlert")]
    alerted = {a["detail"].get("incident_id") for a in alerts}
    assert {i["id"] for i in incidents} <= alerted
    assert "not-a-stripe-secret-at-all" not in json.dumps(alerts)


async def test_an_easypost_endpoint_change_takes_effect_without_a_restart(
        shop_factory: Any, aiohttp_server: Any) -> None:
    calls: dict[str, list[str]] = {"old": [], "new": []}

    def easypost(name: str) -> web.Application:
        async def answer(request: web.Request) -> web.Response:
            calls[name].append(request.path)
            if request.path.startswith("/v2/trackers/"):
                return web.json_response({"id": "trk_1", "object": "Tracker",
                                          "tracking_code": "EZ100", "status": "in_transit",
                                          "tracking_details": []})
            return web.json_response({"addresses": [], "has_more": False})
        app = web.Application()
        app.router.add_get("/{tail:.*}", answer)
        return app

    old, new = (await aiohttp_server(easypost("old")), await aiohttp_server(easypost("new")))
    shop = await shop_factory(
        carriers=["sandbox-express", "easypost"], easypost_api_key="EZTK_test_key",
        easypost_webhook_secrets=["easypost-webhook-secret-1"],
        easypost_base_url=str(old.make_url("")).rstrip("/"))
    admin = await admin_of(shop)
    carrier = shop.container.carriers()["easypost"]
    await carrier.retrieve_tracker("trk_1")
    assert calls["old"] == ["/v2/trackers/trk_1"]

    await rotate(shop, admin, "easypost", "endpoint", str(new.make_url("")).rstrip("/"))
    assert calls["new"] == ["/v2/addresses"]  # the validation's read-only call
    await carrier.retrieve_tracker("trk_1")  # the same carrier object, no restart
    assert calls["new"] == ["/v2/addresses", "/v2/trackers/trk_1"]
    assert calls["old"] == ["/v2/trackers/trk_1"]
    kinds = {row["kind"] for row in await EvidenceRecord.select(EvidenceRecord.kind).where(
        EvidenceRecord.subject == "provider:easypost")}
    assert {"credential.proposed", "credential.validated", "credential.activated"} <= kinds


async def test_twilios_auth_token_rotates_for_its_status_callbacks(shop_factory: Any) -> None:
    """Messaging: Twilio signs status callbacks with the account's auth token; callbacks
    signed (by Twilio's own RequestValidator) with the old and the new token both pass
    during the overlap, only the new one's after retirement; a token of the wrong shape is
    rejected and changes nothing."""
    old_token, new_token = "a" * 32, "b" * 32
    shop = await shop_factory(twilio_auth_token=old_token)
    admin = await admin_of(shop)

    async def callback_status(token: str) -> int:
        params = [("MessageSid", "SM" + "c" * 32), ("MessageStatus", "delivered")]
        url = f"{shop.container.config.base_url()}/v1/webhooks/twilio/status"
        signature = RequestValidator(token).compute_signature(url, MultiDict(params))
        response = await shop.client.post("/v1/webhooks/twilio/status", data=params, headers={
            "X-Twilio-Signature": signature,
            "Content-Type": "application/x-www-form-urlencoded"})
        return int(response.status)

    proposed = await step(shop, admin, "/v1/admin/providers/twilio/credentials",
                          {"kind": "webhook_secret", "value": "not a twilio token"}, status=201)
    rejected = await step(shop, admin, f"/v1/admin/credentials/{proposed['id']}/validate")
    assert rejected["status"] == "rejected"
    assert await callback_status(old_token) == 200

    activated = await rotate(shop, admin, "twilio", "webhook_secret", new_token)
    assert activated["status"] == "active"
    assert (await callback_status(new_token), await callback_status(old_token)) == (200, 200)
    # A second rotation without an overlap: only the newest token passes from then on.
    newest = await rotate(shop, admin, "twilio", "webhook_secret", "c" * 32, overlap_minutes=0)
    assert [await callback_status(token) for token in ("c" * 32, new_token, old_token)] == [
        200, 400, 400]
    credentials = await (await shop.client.get("/v1/admin/providers/twilio/credentials",
                                               headers=admin)).json()
    assert [(c["id"], c["status"]) for c in credentials["credentials"]] == [
        (newest["id"], "active"), (activated["id"], "retired"), (proposed["id"], "rejected")]
