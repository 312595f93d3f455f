"""Stripe end to end: the storefront API, a real database, the embedded worker, and the Stripe
stand-in (tests/cassettes/stripe_mock.py) as Stripe's servers. A card payment, a held order
through 3-D Secure, an abandoned 3-D Secure step and an inquiry; and the webhooks: only signed
events are accepted, under either secret of a rotation, duplicates and disorder leave the state
events in order leave, and no card number in one is ever kept."""

from __future__ import annotations

import asyncio
import json
import random
import time
import uuid
from datetime import timedelta
from typing import Any

import pytest

from adapters.persistence.tables import EvidenceRecord, InboxMessage, Incident
from adapters.signing import sign
from tests.e2e.payment_steps import (
    CardNumbers,
    decide,
    payment_becomes,
    tables_holding_card_numbers,
    webhook_filed_under,
)
from tests.e2e.stripe_steps import (
    API_KEY,
    OLD_SECRET,
    RETURN_URL,
    SECRET,
    all_processed,
    charge_object,
    deliver,
    dispute_object,
    encoded,
    held_stripe_order,
    intent_object,
    intent_of,
    paid_stripe_order,
    pay_card,
    post_event,
    quiet,
    refund_event,
    stripe_event,
    stripe_shop,
)
from tests.helpers import PAID_OR_LATER, USD_ORDER, eventually, work_done

pytestmark = pytest.mark.timeout(60)


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
    assert view["status"] in PAID_OR_LATER
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


async def test_a_held_order_paid_through_stripe_3ds_is_captured_only_on_approval(
    shop_factory: Any, aiohttp_server: Any,
) -> None:
    shop, stripe, auth, admin, order, intent = await held_stripe_order(shop_factory,
                                                                      aiohttp_server)
    captures = [r for r in stripe.requests if r["path"].endswith("/capture")]
    assert captures == []

    await decide(shop, admin, order["id"], "approve")
    view = await payment_becomes(shop, auth, order["id"], "captured",
                                  what="the capture after approval")
    assert view["status"] in PAID_OR_LATER
    assert intent["status"] == "succeeded" and intent["amount_received"] == order["total"]
    assert [r["path"] for r in stripe.requests if r["path"].endswith("/capture")] == [
        f"/v1/payment_intents/{intent['id']}/capture"]


async def test_a_held_order_paid_through_stripe_3ds_and_rejected_is_released_as_fraudulent(
    shop_factory: Any, aiohttp_server: Any,
) -> None:
    shop, _, auth, admin, order, intent = await held_stripe_order(shop_factory, aiohttp_server)
    await decide(shop, admin, order["id"], "reject")
    view = await payment_becomes(shop, auth, order["id"], "cancelled",
                                  what="the hold to be released")
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
    shop, _, auth, order, intent = await paid_stripe_order(
        shop_factory, aiohttp_server)
    dispute_id = f"dp_{uuid.uuid4().hex[:24]}"
    created = int(time.time())
    inquiry = {**dispute_object(intent, dispute_id, "warning_needs_response", created),
               "is_charge_refundable": True}
    before = await shop.order(auth, order["id"])
    await deliver(shop, stripe_event("charge.dispute.created", inquiry), wait=True)

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
    await deliver(shop, stripe_event("charge.dispute.funds_withdrawn", escalated), wait=True)
    view = await shop.order(auth, order["id"])
    assert view["status"] == "disputed"
    assert view["payments"][0]["disputed"] == order["total"]
    # And it is lost: the order says so rather than "refunded".
    lost = dispute_object(intent, dispute_id, "lost", created)
    await deliver(shop, stripe_event("charge.dispute.closed", lost), wait=True)
    view = await shop.order(auth, order["id"])
    assert view["status"] == "dispute_lost"
    assert (view["money"]["dispute_lost"], view["money"]["refunded"], view["money"]["net"]) == (
        order["total"], 0, 0)


async def test_signed_stripe_webhooks_are_accepted_and_bad_ones_refused_without_effect(
    shop_factory: Any, aiohttp_server: Any,
) -> None:
    shop, stripe, auth, order, intent = await paid_stripe_order(
        shop_factory, aiohttp_server)
    before_view = await shop.order(auth, order["id"])
    body = refund_event(stripe, intent, 1000)
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
    shop, _, _, _, intent = await paid_stripe_order(
        shop_factory, aiohttp_server, stripe_webhook_secrets=[SECRET, OLD_SECRET])
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
        await deliver(shop, event, wait=True)

    # The same events for the other payment: the dispute's end before its start, the refund
    # before the capture, most of them twice (Stripe retries with the same event id), and
    # `processing` only after `succeeded`; all sent at once, so the worker applies them
    # concurrently and in no particular order.
    processing, succeeded, refunded, opened, closed = disordered
    deliveries = [closed, refunded, succeeded, closed, opened, refunded, succeeded, opened,
                  processing]
    rng = random.Random(2024)
    await asyncio.gather(*[deliver(shop, event, wait=False) for event in deliveries])
    # And once more, one at a time, in a shuffled order.
    for event in rng.sample(disordered, len(disordered)):
        await deliver(shop, event, wait=False)
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
    shop, _, _, order, intent = await paid_stripe_order(
        shop_factory, aiohttp_server)
    assert intent["metadata"]["order_id"] == order["id"]
    body = encoded(stripe_event("payment_intent.succeeded", intent_object(intent, "succeeded")))
    response = await post_event(shop, body, sign(SECRET, body))
    assert response.status == 200
    assert await webhook_filed_under() == f"order:{order['id']}"


async def test_card_numbers_in_any_stripe_webhook_are_never_kept(
    shop_factory: Any, aiohttp_server: Any,
) -> None:
    """Every Stripe event type we subscribe to, with card numbers typed every which way into
    its id, its free-text fields and its metadata: acknowledged, and kept only redacted."""
    from adapters.payments.stripe import _DISPUTE_WEBHOOKS, _INTENT_WEBHOOKS

    shop, stripe, _, _, intent = await paid_stripe_order(
        shop_factory, aiohttp_server)
    numbers = CardNumbers(7)
    charge = stripe.books.charges[intent["latest_charge"]]
    things = {kind: intent_object(intent, "succeeded") for kind in _INTENT_WEBHOOKS}
    things |= {kind: dispute_object(intent, f"dp_{uuid.uuid4().hex[:12]}",
                                    "needs_response", int(time.time()))
               for kind in _DISPUTE_WEBHOOKS}
    things["charge.refunded"] = charge_object(intent, charge, 0)
    for kind, thing in sorted(things.items()):
        thing = {**thing, "description": numbers.typed(),
                 "statement_descriptor": numbers.typed(),
                 "metadata": {**thing.get("metadata", {}), "note": numbers.typed()},
                 "payment_method_details": {"card": {"number": numbers.plain()}}}
        body = encoded(stripe_event(kind, thing, event_id=f"evt_{numbers.typed()}"))
        response = await post_event(shop, body, sign(SECRET, body))
        assert response.status == 200, (kind, await response.text())
    await eventually(all_processed, what="every event to be processed")
    assert await tables_holding_card_numbers() == {}
