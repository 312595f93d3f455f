"""Steps the Stripe end-to-end tests share: the Stripe stand-in (tests/cassettes/stripe_mock.py)
on a local port as Stripe's servers, the app set up to pay through it, and Stripe's objects and
events as Stripe sends them to our webhook endpoint."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import aiohttp
from aiohttp import web

from adapters.persistence.tables import EvidenceRecord, InboxMessage, OutboxMessage
from adapters.signing import sign
from domain.redaction import card_safe_id
from tests.cassettes.stripe_mock import STAND_IN, StripeStandIn
from tests.cassettes.stripe_mock import make_app as make_stripe_app
from tests.e2e.identity_steps import admin_of
from tests.helpers import STRIPE_FIRST, USD_ORDER, eventually

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
    operation: dict[str, Any] = await shop.pay_to_the_end(auth, order_id, token)
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
        "id": event_id or card_safe_id("evt", 24), "object": "event",
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


async def paid_through_stripe(shop: Any, stripe: StandIn) -> tuple[
        dict[str, str], dict[str, Any], dict[str, Any]]:
    auth = await shop.sign_up()
    order = await shop.place(auth, USD_ORDER)
    operation = await pay_card(shop, auth, order["id"])
    intent = next(i for i in stripe.books.intents.values()
                  if i["metadata"]["payment_id"] == operation["result"]["payment_id"])
    await quiet(shop, auth, order["id"])
    return auth, order, intent


def refund_event(stripe: StandIn, intent: dict[str, Any], amount: int) -> bytes:
    charge = stripe.books.charges[intent["latest_charge"]]
    return encoded(stripe_event("charge.refunded", charge_object(intent, charge, amount)))


async def deliver(shop: Any, event: dict[str, Any], wait: bool) -> None:
    body = encoded(event)
    response = await post_event(shop, body, sign(SECRET, body))
    assert response.status == 200, await response.text()
    if wait:
        await eventually(all_processed, what=f"{event['type']} to be processed")


BIG_USD_ORDER = {**USD_ORDER, "lines": [{**USD_ORDER["lines"][0], "quantity": 1,
                                         "unit_price": 200_000}]}  # from a new account
RETURN_URL = "https://mall.example/checkout/return"


def intent_of(stripe: StandIn, order_id: str) -> dict[str, Any]:
    return next(i for i in stripe.books.intents.values()
                if i["metadata"]["order_id"] == order_id)


async def pass_3ds(url: str) -> None:
    """The customer follows next_action to the bank's page and passes the check."""
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        assert response.status == 200, await response.text()


async def held_through_3ds(shop: Any, stripe: StandIn,
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
    await deliver(shop, stripe_event("payment_intent.amount_capturable_updated", snapshot),
                   wait=True)
    held = await shop.order(auth, order["id"])
    assert held["status"] == "on_hold" and held["review"] == "pending"
    [payment] = held["payments"]
    assert payment["status"] == "authorized"
    assert (payment["captured"], payment["authorized"]) == (0, order["total"])
    assert held["shipments"] == []
    return order, intent


async def held_stripe_order(shop_factory: Any, aiohttp_server: Any) -> tuple[
        Any, StandIn, dict[str, str], dict[str, str], dict[str, Any], dict[str, Any]]:
    """An app paying through Stripe with a return URL, a new customer whose big order is held
    after 3-D Secure, and an admin to review it: shop, stand-in, auth, admin, order, intent."""
    shop, stripe = await stripe_shop(shop_factory, aiohttp_server, stripe_return_url=RETURN_URL)
    auth, admin = await shop.sign_up(), await admin_of(shop)
    order, intent = await held_through_3ds(shop, stripe, auth)
    return shop, stripe, auth, admin, order, intent


async def paid_stripe_order(shop_factory: Any, aiohttp_server: Any, **overrides: Any) -> tuple[
        Any, StandIn, dict[str, str], dict[str, Any], dict[str, Any]]:
    """An app paying through Stripe, and a new customer's order paid by card with all its
    background work done: shop, stand-in, auth, order, intent."""
    shop, stripe = await stripe_shop(shop_factory, aiohttp_server, **overrides)
    auth, order, intent = await paid_through_stripe(shop, stripe)
    return shop, stripe, auth, order, intent
