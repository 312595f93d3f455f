"""Stripe end to end: the storefront API, a real database, the embedded worker, and the
Stripe stand-in (tests/cassettes/stripe_mock.py) as Stripe's servers."""

from __future__ import annotations

import asyncio
import json
import random
import time
import uuid
from datetime import timedelta
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from adapters.persistence.tables import EvidenceRecord, InboxMessage, Incident, OutboxMessage
from adapters.signing import sign
from domain.customers import Role
from tests.cassettes.stripe_mock import STAND_IN, StripeStandIn
from tests.cassettes.stripe_mock import make_app as make_stripe_app
from tests.helpers import STRIPE_FIRST, USD_ORDER, eventually, work_done

pytestmark = pytest.mark.timeout(60)

API_KEY = "sk_test_e2e_mall"
SECRET = "whsec_stripe_e2e_current"
OLD_SECRET = "whsec_stripe_e2e_previous"
CONTRACTS = STRIPE_FIRST
PENDING_WORK = ("pending", "processing")
UNPROCESSED = ("received", "processing")


class StandIn:
    """The Stripe stand-in, running on a local port, with the requests it received."""

    def __init__(self, app: web.Application, url: str) -> None:
        self.app, self.url = app, url
        self.requests: list[dict[str, Any]] = []

    @property
    def books(self) -> StripeStandIn:
        stripe: StripeStandIn = self.app[STAND_IN]
        return stripe


async def start_stripe(aiohttp_server: Any) -> StandIn:
    app = make_stripe_app()
    seen: list[dict[str, Any]] = []

    @web.middleware
    async def record(request: web.Request, handler: Any) -> web.StreamResponse:
        seen.append({"method": request.method, "path": request.path,
                     "headers": dict(request.headers)})
        response: web.StreamResponse = await handler(request)
        return response

    app.middlewares.append(record)
    server = await aiohttp_server(app)
    stand_in = StandIn(app, str(server.make_url("")).rstrip("/"))
    stand_in.requests = seen
    return stand_in


async def stripe_shop(shop_factory: Any, aiohttp_server: Any,
                      **overrides: Any) -> tuple[Any, StandIn]:
    stand_in = await start_stripe(aiohttp_server)
    settings: dict[str, Any] = {
        "payment_providers": ["stripe", "sandbox"], "payment_contracts": CONTRACTS,
        "stripe_api_key": API_KEY, "stripe_webhook_secrets": [SECRET],
        "stripe_base_url": stand_in.url,
        # Parcels stay at the seller: tracking webhooks would move the order meanwhile.
        "sandbox_tracking_step_seconds": 3600,
    }
    settings.update(overrides)
    return await shop_factory(**settings), stand_in


async def pay_card(shop: Any, auth: dict[str, str], order_id: str,
                   token: str = "pm_card_visa") -> dict[str, Any]:
    status, operation = await shop.pay(auth, order_id, token)
    assert status == 200, operation
    assert operation["status"] == "succeeded", operation
    assert operation["result"]["status"] == "captured", operation
    return operation


async def quiet(shop: Any, auth: dict[str, str], order_id: str) -> None:
    """Wait until the background work a paid order sets off (notifications, parcels) is
    done, so that what a test sends next is the only thing that can change anything."""

    async def done() -> bool:
        view = await shop.order(auth, order_id)
        busy = await OutboxMessage.count().where(OutboxMessage.status.is_in(PENDING_WORK))
        unprocessed = await InboxMessage.count().where(InboxMessage.status.is_in(UNPROCESSED))
        return len(view["shipments"] or []) == 2 and busy == 0 and unprocessed == 0

    await eventually(done, what="the paid order's background work to finish")
    before = await EvidenceRecord.count()

    async def stable() -> bool:
        nonlocal before
        await asyncio.sleep(0.2)
        now = await EvidenceRecord.count()
        steady, before = now == before, now
        return steady

    await eventually(stable, what="the evidence ledger to stop growing")


def stripe_event(kind: str, thing: dict[str, Any], created: int | None = None,
                 event_id: str | None = None) -> dict[str, Any]:
    """An Event object as Stripe sends it to a webhook endpoint (API version 2023-08-16)."""
    return {
        "id": event_id or f"evt_{uuid.uuid4().hex[:24]}", "object": "event",
        "api_version": "2023-08-16", "created": created or int(time.time()),
        "data": {"object": thing}, "livemode": False, "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None}, "type": kind,
    }


def intent_object(intent: dict[str, Any], status: str) -> dict[str, Any]:
    shown = dict(intent)
    shown["status"] = status
    if status == "processing":
        shown["amount_received"] = 0
    return shown


def charge_object(intent: dict[str, Any], charge: dict[str, Any],
                  amount_refunded: int) -> dict[str, Any]:
    return {**charge, "amount_captured": intent["amount"], "captured": True,
            "amount_refunded": amount_refunded, "refunded": amount_refunded >= charge["amount"],
            "payment_intent": intent["id"], "metadata": dict(intent["metadata"])}


def dispute_object(intent: dict[str, Any], dispute_id: str, status: str,
                   created: int) -> dict[str, Any]:
    return {"id": dispute_id, "object": "dispute", "amount": intent["amount"],
            "balance_transactions": [], "charge": intent["latest_charge"], "created": created,
            "currency": intent["currency"], "evidence": {}, "is_charge_refundable": False,
            "livemode": False, "metadata": {}, "payment_intent": intent["id"],
            "reason": "fraudulent", "status": status}


async def post_event(shop: Any, body: bytes, signature: str) -> Any:
    return await shop.client.post("/v1/webhooks/stripe", data=body, headers={
        "Stripe-Signature": signature, "Content-Type": "application/json"})


def encoded(event: dict[str, Any]) -> bytes:
    return json.dumps(event, separators=(",", ":")).encode()


async def all_processed() -> bool:
    return await InboxMessage.count().where(InboxMessage.status.is_in(UNPROCESSED)) == 0


# --- 1. a card payment ------------------------------------------------------------------------


async def test_a_usd_order_paid_through_stripe_is_captured_and_the_order_paid(
    shop_factory: Any, aiohttp_server: Any,
) -> None:
    shop, stripe = await stripe_shop(shop_factory, aiohttp_server)
    auth = await shop.sign_up()
    order = await shop.place(auth, USD_ORDER)
    assert order["total"] == 2 * 1250 + 1800

    operation = await pay_card(shop, auth, order["id"])
    payment_id = operation["result"]["payment_id"]

    view = await shop.order(auth, order["id"])
    assert view["status"] in ("paid", "shipped", "delivered")
    [payment] = view["payments"]
    assert payment["provider"] == "stripe" and payment["status"] == "captured"
    assert payment["captured"] == payment["net"] == order["total"]

    # The PaymentIntent was made at Stripe, once, under our idempotency key for the attempt.
    created = [r for r in stripe.requests
               if (r["method"], r["path"]) == ("POST", "/v1/payment_intents")]
    assert len(created) == 1
    key = created[0]["headers"].get("Idempotency-Key")
    assert key and (API_KEY, key) in stripe.books.replies
    assert created[0]["headers"]["Authorization"] == f"Bearer {API_KEY}"
    [intent] = stripe.books.intents.values()
    assert intent["status"] == "succeeded" and intent["amount"] == order["total"]
    assert intent["currency"] == "usd" and intent["payment_method"] == "pm_card_visa"
    assert intent["metadata"]["payment_id"] == payment_id
    assert intent["metadata"]["order_id"] == order["id"]


# --- 2. signed webhooks ---------------------------------------------------------------------


async def _paid_through_stripe(shop: Any, stripe: StandIn) -> tuple[
        dict[str, str], dict[str, Any], dict[str, Any]]:
    auth = await shop.sign_up()
    order = await shop.place(auth, USD_ORDER)
    operation = await pay_card(shop, auth, order["id"])
    intent = next(i for i in stripe.books.intents.values()
                  if i["metadata"]["payment_id"] == operation["result"]["payment_id"])
    await quiet(shop, auth, order["id"])
    return auth, order, intent


def _refund_event(stripe: StandIn, intent: dict[str, Any], amount: int) -> bytes:
    charge = stripe.books.charges[intent["latest_charge"]]
    return encoded(stripe_event("charge.refunded", charge_object(intent, charge, amount)))


async def test_signed_stripe_webhooks_are_accepted_and_bad_ones_refused_without_effect(
    shop_factory: Any, aiohttp_server: Any,
) -> None:
    shop, stripe = await stripe_shop(shop_factory, aiohttp_server)
    auth, order, intent = await _paid_through_stripe(shop, stripe)
    before_view = await shop.order(auth, order["id"])
    body = _refund_event(stripe, intent, 1000)
    now = int(time.time())
    refused = {
        "tampered body": (body.replace(b'"amount_refunded":1000', b'"amount_refunded":4300'),
                          sign(SECRET, body)),
        "wrong secret": (body, sign("whsec_not_ours", body)),
        "stale timestamp": (body, sign(SECRET, body, timestamp=now - 301 - 5)),
        "future timestamp": (body, sign(SECRET, body, timestamp=now + 301 + 5)),
        "no signature": (body, ""),
    }
    inbox_before = await InboxMessage.count()
    evidence_before = await EvidenceRecord.count()
    assert refused["tampered body"][0] != body
    for case, (sent, signature) in refused.items():
        response = await post_event(shop, sent, signature)
        assert response.status == 400, case
        assert response.content_type == "application/problem+json", case
        problem = await response.json()
        assert problem["type"] == "/problems/invalid-signature", case
        assert problem["status"] == 400 and problem["detail"], case
        assert await InboxMessage.count() == inbox_before, case
        assert await EvidenceRecord.count() == evidence_before, case
    await eventually(work_done, what="the background work to finish")
    assert await InboxMessage.count() == inbox_before
    assert await EvidenceRecord.count() == evidence_before
    after_view = await shop.order(auth, order["id"])
    assert after_view["status"] == before_view["status"]
    assert after_view["payments"] == before_view["payments"]
    assert after_view["money"] == before_view["money"]

    # The same event, signed as Stripe signs it, is accepted, kept and applied.
    response = await post_event(shop, body, sign(SECRET, body))
    assert response.status == 200, await response.text()
    assert (await response.json())["status"] == "accepted"
    event_id = json.loads(body)["id"]
    [row] = await InboxMessage.select().where(InboxMessage.event_id == event_id)
    assert row["provider"] == "stripe" and row["kind"] == "charge.refunded"
    received = await EvidenceRecord.select().where(EvidenceRecord.kind == "webhook.received")
    assert [json.loads(r["context"])["event_id"] for r in received] == [event_id]
    assert received[0]["source"] == "stripe"

    async def refunded() -> dict[str, Any] | None:
        view = await shop.order(auth, order["id"])
        return view if view["payments"][0]["refunded"] == 1000 else None

    view = await eventually(refunded, what="the refund to be applied")
    assert view["payments"][0]["status"] == "partially_refunded"
    assert view["status"] == "partially_refunded"


async def test_both_stripe_secrets_are_accepted_during_a_rotation(
    shop_factory: Any, aiohttp_server: Any,
) -> None:
    shop, stripe = await stripe_shop(shop_factory, aiohttp_server,
                                     stripe_webhook_secrets=[SECRET, OLD_SECRET])
    _, _, intent = await _paid_through_stripe(shop, stripe)
    inbox_before = await InboxMessage.count()

    def succeeded() -> bytes:
        return encoded(stripe_event("payment_intent.succeeded",
                                    intent_object(intent, "succeeded")))

    for secret in (OLD_SECRET, SECRET):
        body = succeeded()
        response = await post_event(shop, body, sign(secret, body))
        assert response.status == 200, secret
        assert (await response.json())["status"] == "accepted", secret

    # A header with two v1 signatures (Stripe sends one per secret while it rolls one): one
    # valid is enough.
    body = succeeded()
    stamp = int(time.time())
    good = sign(SECRET, body, stamp).split("v1=", 1)[1]
    bad = sign("whsec_rolled_away", body, stamp).split("v1=", 1)[1]
    response = await post_event(shop, body, f"t={stamp},v1={bad},v1={good}")
    assert response.status == 200, await response.text()

    # A secret outside the ring is still refused.
    body = succeeded()
    response = await post_event(shop, body, sign("whsec_rolled_away", body))
    assert response.status == 400
    assert await InboxMessage.count() == inbox_before + 3


# --- 3. duplicates and disorder ---------------------------------------------------------------


async def _deliver(shop: Any, event: dict[str, Any], wait: bool) -> None:
    body = encoded(event)
    response = await post_event(shop, body, sign(SECRET, body))
    assert response.status == 200, await response.text()
    if wait:
        await eventually(all_processed, what=f"{event['type']} to be processed")


async def test_events_twice_or_out_of_order_leave_the_same_state_as_in_order(
    shop_factory: Any, aiohttp_server: Any,
) -> None:
    shop, stripe = await stripe_shop(shop_factory, aiohttp_server)
    auth = await shop.sign_up()
    orders, intents = [], []
    for _ in range(2):
        order = await shop.place(auth, USD_ORDER)
        operation = await pay_card(shop, auth, order["id"])
        orders.append(order)
        intents.append(next(i for i in stripe.books.intents.values()
                            if i["metadata"]["payment_id"] == operation["result"]["payment_id"]))
    for order in orders:
        await quiet(shop, auth, order["id"])

    def story(intent: dict[str, Any]) -> list[dict[str, Any]]:
        """What Stripe reports about one payment, in the order it happened."""
        t0 = int(time.time()) - 60
        charge = stripe.books.charges[intent["latest_charge"]]
        dispute_id = f"dp_{uuid.uuid4().hex[:24]}"
        return [
            stripe_event("payment_intent.processing", intent_object(intent, "processing"), t0),
            stripe_event("payment_intent.succeeded", intent_object(intent, "succeeded"), t0 + 1),
            stripe_event("charge.refunded", charge_object(intent, charge, 1500), t0 + 10),
            stripe_event("charge.dispute.created",
                         dispute_object(intent, dispute_id, "needs_response", t0 + 20), t0 + 20),
            stripe_event("charge.dispute.closed",
                         dispute_object(intent, dispute_id, "won", t0 + 20), t0 + 30),
        ]

    in_order, disordered = story(intents[0]), story(intents[1])
    for event in in_order:
        await _deliver(shop, event, wait=True)

    # The same events for the other payment: the dispute's end before its start, the refund
    # before the capture, most of them twice (Stripe retries with the same event id), and
    # `processing` only after `succeeded`; all sent at once, so the worker applies them
    # concurrently and in no particular order.
    processing, succeeded, refunded, opened, closed = disordered
    deliveries = [closed, refunded, succeeded, closed, opened, refunded, succeeded, opened,
                  processing]
    rng = random.Random(2024)
    await asyncio.gather(*[_deliver(shop, event, wait=False) for event in deliveries])
    # And once more, one at a time, in a shuffled order.
    for event in rng.sample(disordered, len(disordered)):
        await _deliver(shop, event, wait=False)
    await eventually(all_processed, what="every delivery to be processed")
    statuses = {row["status"] for row in await InboxMessage.select(InboxMessage.status)}
    assert statuses <= {"applied", "no_change"}, statuses

    views = [await shop.order(auth, order["id"]) for order in orders]
    fields = ("status", "amount", "authorized", "captured", "refunded", "refund_pending",
              "disputed", "dispute_lost", "net")
    first, second = ({name: view["payments"][0][name] for name in fields} for view in views)
    assert first == second
    assert views[0]["status"] == views[1]["status"]
    assert views[0]["money"] == views[1]["money"]
    total = orders[0]["total"]
    assert first == {"status": "dispute_won", "amount": total, "authorized": 0,
                     "captured": total, "refunded": 1500, "refund_pending": 0, "disputed": 0,
                     "dispute_lost": 0, "net": total - 1500}
    assert views[0]["status"] == "partially_refunded"


async def test_a_stripe_webhook_is_filed_as_evidence_of_its_order(
    shop_factory: Any, aiohttp_server: Any,
) -> None:
    shop, stripe = await stripe_shop(shop_factory, aiohttp_server)
    _, order, intent = await _paid_through_stripe(shop, stripe)
    assert intent["metadata"]["order_id"] == order["id"]
    body = encoded(stripe_event("payment_intent.succeeded", intent_object(intent, "succeeded")))
    response = await post_event(shop, body, sign(SECRET, body))
    assert response.status == 200
    [record] = await EvidenceRecord.select(EvidenceRecord.subject).where(
        EvidenceRecord.kind == "webhook.received")
    assert record["subject"] == f"order:{order['id']}"


# --- 4. a held order through 3-D Secure, inquiries, cancellation reasons ----------------------

BIG_USD_ORDER = {**USD_ORDER, "lines": [{**USD_ORDER["lines"][0], "quantity": 1,
                                         "unit_price": 200_000}]}  # from a new account
RETURN_URL = "https://mall.example/checkout/return"


async def admin_of(shop: Any) -> dict[str, str]:
    email = f"admin-{uuid.uuid4().hex[:6]}@example.com"
    await shop.container.accounts().register(email, "admin password 1", role=Role.ADMIN)
    response = await shop.client.post("/v1/auth/login",
                                      json={"email": email, "password": "admin password 1"})
    return {"Authorization": f"Bearer {(await response.json())['access_token']}"}


def intent_of(stripe: StandIn, order_id: str) -> dict[str, Any]:
    return next(i for i in stripe.books.intents.values()
                if i["metadata"]["order_id"] == order_id)


async def pass_3ds(url: str) -> None:
    """The customer follows next_action to the bank's page and passes the check."""
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        assert response.status == 200, await response.text()


async def _held_through_3ds(shop: Any, stripe: StandIn,
                            auth: dict[str, str]) -> tuple[dict[str, Any], dict[str, Any]]:
    order = await shop.place(auth, BIG_USD_ORDER)
    status, operation = await shop.pay(auth, order["id"], "pm_card_authenticationRequired")
    assert status == 200 and operation["result"]["status"] == "requires_action", operation
    intent = intent_of(stripe, order["id"])
    assert intent["capture_method"] == "manual"
    await pass_3ds(operation["result"]["next_action"]["url"])
    assert intent["status"] == "requires_capture"
    # Stripe then reports the hold, as it does after 3-D Secure for a manual capture.
    snapshot = json.loads(json.dumps(intent))
    await _deliver(shop, stripe_event("payment_intent.amount_capturable_updated", snapshot),
                   wait=True)
    held = await shop.order(auth, order["id"])
    assert held["status"] == "on_hold" and held["review"] == "pending"
    [payment] = held["payments"]
    assert payment["status"] == "authorized"
    assert (payment["captured"], payment["authorized"]) == (0, order["total"])
    assert held["shipments"] == []
    return order, intent


async def test_a_held_order_paid_through_stripe_3ds_is_captured_only_on_approval(
    shop_factory: Any, aiohttp_server: Any,
) -> None:
    shop, stripe = await stripe_shop(shop_factory, aiohttp_server, stripe_return_url=RETURN_URL)
    auth, admin = await shop.sign_up(), await admin_of(shop)
    order, intent = await _held_through_3ds(shop, stripe, auth)
    captures = [r for r in stripe.requests if r["path"].endswith("/capture")]
    assert captures == []

    response = await shop.client.post(f"/v1/admin/reviews/{order['id']}",
                                      json={"decision": "approve"}, headers=admin)
    assert response.status == 200, await response.text()

    async def captured() -> dict[str, Any] | None:
        view = await shop.order(auth, order["id"])
        return view if view["payments"][0]["status"] == "captured" else None

    view = await eventually(captured, what="the capture after approval")
    assert view["status"] in ("paid", "shipped", "delivered")
    assert intent["status"] == "succeeded" and intent["amount_received"] == order["total"]
    assert [r["path"] for r in stripe.requests if r["path"].endswith("/capture")] == [
        f"/v1/payment_intents/{intent['id']}/capture"]


async def test_a_held_order_paid_through_stripe_3ds_and_rejected_is_released_as_fraudulent(
    shop_factory: Any, aiohttp_server: Any,
) -> None:
    shop, stripe = await stripe_shop(shop_factory, aiohttp_server, stripe_return_url=RETURN_URL)
    auth, admin = await shop.sign_up(), await admin_of(shop)
    order, intent = await _held_through_3ds(shop, stripe, auth)
    response = await shop.client.post(f"/v1/admin/reviews/{order['id']}",
                                      json={"decision": "reject"}, headers=admin)
    assert response.status == 200, await response.text()

    async def released() -> dict[str, Any] | None:
        view = await shop.order(auth, order["id"])
        return view if view["payments"][0]["status"] == "cancelled" else None

    view = await eventually(released, what="the hold to be released")
    assert view["status"] == "cancelled" and view["money"]["captured"] == 0
    assert intent["status"] == "canceled" and intent["amount_received"] == 0
    assert intent["cancellation_reason"] == "fraudulent"


async def test_an_abandoned_3ds_step_is_cancelled_at_stripe_as_abandoned(
    shop_factory: Any, aiohttp_server: Any,
) -> None:
    shop, stripe = await stripe_shop(shop_factory, aiohttp_server, stripe_return_url=RETURN_URL)
    auth = await shop.sign_up()
    order = await shop.place(auth, USD_ORDER)
    _, operation = await shop.pay(auth, order["id"], "pm_card_authenticationRequired")
    assert operation["result"]["status"] == "requires_action", operation
    intent = intent_of(stripe, order["id"])
    assert intent["capture_method"] == "automatic"
    assert await shop.container.payments().expire_abandoned(timedelta(seconds=-60)) == 1

    async def cancelled_there() -> bool:
        return bool(intent["status"] == "canceled")

    await eventually(cancelled_there, what="the PaymentIntent to be cancelled")
    assert intent["cancellation_reason"] == "abandoned"
    view = await shop.order(auth, order["id"])
    assert view["status"] == "pending_payment"
    assert view["payments"][0]["failure_code"] == "authentication_abandoned"


async def test_a_stripe_inquiry_takes_no_money_and_does_not_dispute_the_order(
    shop_factory: Any, aiohttp_server: Any,
) -> None:
    shop, stripe = await stripe_shop(shop_factory, aiohttp_server)
    auth, order, intent = await _paid_through_stripe(shop, stripe)
    before = await shop.order(auth, order["id"])
    dispute_id = f"dp_{uuid.uuid4().hex[:24]}"
    created = int(time.time())
    inquiry = {**dispute_object(intent, dispute_id, "warning_needs_response", created),
               "is_charge_refundable": True}
    await _deliver(shop, stripe_event("charge.dispute.created", inquiry), wait=True)

    view = await shop.order(auth, order["id"])
    assert view["status"] == before["status"] != "disputed"
    [payment] = view["payments"]
    assert (payment["status"], payment["disputed"], payment["net"]) == (
        "captured", 0, order["total"])
    assert view["money"] == before["money"]
    assert [e["type"] for e in payment["events"]].count("inquiry_opened") == 1
    [incident] = await Incident.select().where(Incident.kind == "card_inquiry")
    assert order["id"] in incident["detail"]
    assert await Incident.count().where(Incident.kind == "chargeback") == 0

    # The inquiry escalates: now the money is withdrawn and the order disputed.
    escalated = dispute_object(intent, dispute_id, "needs_response", created)
    await _deliver(shop, stripe_event("charge.dispute.funds_withdrawn", escalated), wait=True)
    view = await shop.order(auth, order["id"])
    assert view["status"] == "disputed"
    assert view["payments"][0]["disputed"] == order["total"]
    # And it is lost: the order says so rather than "refunded".
    lost = dispute_object(intent, dispute_id, "lost", created)
    await _deliver(shop, stripe_event("charge.dispute.closed", lost), wait=True)
    view = await shop.order(auth, order["id"])
    assert view["status"] == "dispute_lost"
    assert (view["money"]["dispute_lost"], view["money"]["refunded"], view["money"]["net"]) == (
        order["total"], 0, 0)


async def test_card_numbers_in_any_stripe_webhook_are_never_kept(
    shop_factory: Any, aiohttp_server: Any,
) -> None:
    """Every Stripe event type we subscribe to, with card numbers typed every which way into
    its id, its free-text fields and its metadata: acknowledged, and kept only redacted."""
    from adapters.payments.stripe import _DISPUTE_WEBHOOKS, _INTENT_WEBHOOKS
    from adapters.persistence.tables import ALL_TABLES
    from tests.e2e.test_no_card_numbers import PANS, SEPARATORS, WRAPS, leaks, typed

    shop, stripe = await stripe_shop(shop_factory, aiohttp_server)
    _, _, intent = await _paid_through_stripe(shop, stripe)
    rng = random.Random(7)

    def pan() -> str:
        return typed(rng.choice(PANS), rng.choice(SEPARATORS), rng.choice(WRAPS))

    charge = stripe.books.charges[intent["latest_charge"]]
    things = {kind: intent_object(intent, "succeeded") for kind in _INTENT_WEBHOOKS}
    things |= {kind: dispute_object(intent, f"dp_{uuid.uuid4().hex[:12]}",
                                    "needs_response", int(time.time()))
               for kind in _DISPUTE_WEBHOOKS}
    things["charge.refunded"] = charge_object(intent, charge, 0)
    for kind, thing in sorted(things.items()):
        thing = {**thing, "description": pan(), "statement_descriptor": pan(),
                 "metadata": {**thing.get("metadata", {}), "note": pan()},
                 "payment_method_details": {"card": {"number": rng.choice(PANS)}}}
        body = encoded(stripe_event(kind, thing, event_id=f"evt_{pan()}"))
        response = await post_event(shop, body, sign(SECRET, body))
        assert response.status == 200, (kind, await response.text())
    await eventually(all_processed, what="every event to be processed")
    found = {table._meta.tablename: leaks(json.dumps(await table.select(), default=str))
             for table in ALL_TABLES}
    assert {name: hits for name, hits in found.items() if hits} == {}
