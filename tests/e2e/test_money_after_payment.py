"""After the money moved: refunds, chargebacks, fraud review, KYC, reconciliation, dispute
bundles; end to end through the API, the sandbox gateway's own books and its webhooks."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from typing import Any

from adapters.persistence.tables import EvidenceRecord, Incident, NotificationLog, SandboxCharge
from tests.e2e.identity_steps import admin_of
from tests.e2e.payment_steps import decide, payment_becomes
from tests.helpers import ORDER, PAID_OR_LATER, eventually

BIG_ORDER = {**ORDER, "lines": [{**ORDER["lines"][0], "unit_price": 2_500_000, "quantity": 1}]}


async def paid_order(shop: Any, auth: dict[str, str], order: dict[str, Any] = ORDER
                     ) -> dict[str, Any]:
    placed = await shop.place(auth, order)
    status, operation = await shop.pay(auth, placed["id"], "pm_sandbox_success")
    assert status == 200 and operation["result"]["status"] == "captured", operation
    return placed


async def refund(shop: Any, admin: dict[str, str], order_id: str, amount: int | None,
                 key: str | None = None) -> tuple[int, dict[str, Any]]:
    response = await shop.client.post(
        f"/v1/admin/orders/{order_id}/refunds", json={"amount": amount, "reason": "damaged"},
        headers={**admin, "Idempotency-Key": key or uuid.uuid4().hex})
    return response.status, await response.json()


async def transitions(order_id: str) -> list[dict[str, Any]]:
    """In the order they were appended: a record has no seq until the sealer chains it."""
    rows = await EvidenceRecord.select(EvidenceRecord.payload).where(
        (EvidenceRecord.subject == f"order:{order_id}")
        & (EvidenceRecord.kind == "payment.transition")).order_by(
        EvidenceRecord._meta.primary_key)
    return [json.loads(row["payload"]) for row in rows]


async def test_two_partial_refunds_then_one_too_many(shop: Any) -> None:
    auth, admin = await shop.sign_up(), await admin_of(shop)
    order = await paid_order(shop, auth)
    total = order["total"]  # 39000 KRW

    status, first = await refund(shop, admin, order["id"], 10000, key="refund-1")
    assert status == 200, first
    assert first["status"] == "refunded" and first["refunded"] == 10000
    assert first["order_status"] == "partially_refunded"
    # The same key again is the same refund, not a second one.
    status, again = await refund(shop, admin, order["id"], 10000, key="refund-1")
    assert status == 200 and again["refund_id"] == first["refund_id"]
    assert again["refunded"] == 10000

    status, second = await refund(shop, admin, order["id"], 20000)
    assert status == 200, second
    assert second["refunded"] == 30000 and second["net"] == total - 30000

    status, third = await refund(shop, admin, order["id"], 10000)
    assert status == 422, third
    assert third["type"] == "/problems/refund-exceeds-captured"
    assert "9000 KRW still refundable" in third["detail"]

    view = await shop.order(auth, order["id"])
    assert view["status"] == "partially_refunded"
    [payment] = view["payments"]
    assert payment["status"] == "partially_refunded"
    assert (payment["captured"], payment["refunded"], payment["net"]) == (total, 30000, 9000)
    assert view["money"]["refunded"] == 30000
    assert await SandboxCharge.count() == 1
    charge = await SandboxCharge.select().first()
    assert sum(r["amount"] for r in json.loads(charge["refunds"])) == 30000  # the provider's books

    requested = await EvidenceRecord.select(EvidenceRecord.payload).where(
        (EvidenceRecord.subject == f"order:{order['id']}")
        & (EvidenceRecord.kind == "refund.requested"))
    assert sorted(json.loads(r["payload"])["amount"] for r in requested) == [10000, 20000]
    last = (await transitions(order["id"]))[-1]
    assert (last["refunded"], last["net"], last["order_status"]) == (
        30000, 9000, "partially_refunded")

    # The rest refunds it fully.
    status, rest = await refund(shop, admin, order["id"], None)
    assert status == 200 and rest["refunded"] == total and rest["order_status"] == "refunded"

    async def told() -> bool:
        return int(await NotificationLog.count().where(
            (NotificationLog.template == "payment_refunded")
            & (NotificationLog.subject == order["id"]))) == 3

    await eventually(told, what="one notice per refund")


async def test_refunds_are_for_admins_and_need_a_key(shop: Any) -> None:
    auth = await shop.sign_up()
    order = await paid_order(shop, auth)
    response = await shop.client.post(f"/v1/admin/orders/{order['id']}/refunds",
                                      json={"amount": 100},
                                      headers={**auth, "Idempotency-Key": "k"})
    assert response.status == 403
    admin = await admin_of(shop)
    response = await shop.client.post(f"/v1/admin/orders/{order['id']}/refunds",
                                      json={"amount": 100}, headers=admin)
    assert response.status == 400 and "Idempotency-Key" in (await response.json())["detail"]
    status, _ = await refund(shop, admin, order["id"], -5)
    assert status == 422
    status, _ = await refund(shop, admin, "ord_missing", 100)
    assert status == 404


async def _dispute(shop: Any, reference: str, outcome: str | None = None) -> None:
    path = f"/sandbox/payments/{reference}/dispute" + (f"/{outcome}" if outcome else "")
    response = await shop.client.post(path)
    assert response.status == 200, await response.text()


async def _reference(order_id: str) -> str:
    charge = await SandboxCharge.select().where(SandboxCharge.order_id == order_id).first()
    return str(charge["reference"])


async def test_a_chargeback_disputes_the_order_and_a_win_gives_it_back(shop: Any) -> None:
    auth = await shop.sign_up()
    order = await paid_order(shop, auth)
    reference = await _reference(order["id"])
    await _dispute(shop, reference)

    async def status_is(wanted: str) -> dict[str, Any] | None:
        view = await shop.order(auth, order["id"])
        return view if view["status"] == wanted else None

    disputed = await eventually(lambda: status_is("disputed"), what="the order disputed")
    assert disputed["payments"][0]["disputed"] == order["total"]
    [incident] = await Incident.select().where(Incident.kind == "chargeback")
    assert order["id"] in incident["detail"] and "dispute-bundle" in incident["detail"]

    await _dispute(shop, reference, "won")

    async def settled_again() -> dict[str, Any] | None:
        view = await shop.order(auth, order["id"])
        return view if view["status"] in PAID_OR_LATER else None

    won = await eventually(settled_again, what="the order back after the won dispute")
    assert won["payments"][0]["status"] == "dispute_won"
    assert won["money"]["net"] == order["total"] and won["money"]["disputed"] == 0


async def test_a_lost_chargeback_leaves_the_order_dispute_lost_not_refunded(
    shop: Any,
) -> None:
    auth = await shop.sign_up()
    order = await paid_order(shop, auth)
    reference = await _reference(order["id"])
    await _dispute(shop, reference)
    await _dispute(shop, reference, "lost")

    view = await payment_becomes(shop, auth, order["id"], "dispute_lost",
                                  what="the lost dispute")
    assert view["status"] == "dispute_lost"
    assert view["money"]["dispute_lost"] == order["total"] and view["money"]["net"] == 0
    assert view["money"]["refunded"] == 0  # nobody refunded it: the bank took it back


async def test_a_high_risk_order_is_held_listed_and_ships_only_after_approval(
    shop: Any,
) -> None:
    auth, admin = await shop.sign_up(), await admin_of(shop)
    order = await shop.place(auth, BIG_ORDER)  # a new account with a high-value order
    status, operation = await shop.pay(auth, order["id"], "pm_sandbox_success")
    assert status == 200 and operation["result"]["status"] == "authorized", operation

    held = await shop.order(auth, order["id"])
    assert held["status"] == "on_hold" and held["review"] == "pending"
    assert held["payments"][0]["captured"] == 0 and held["payments"][0]["authorized"] > 0
    reviews = await (await shop.client.get("/v1/admin/reviews", headers=admin)).json()
    [review] = [r for r in reviews["reviews"] if r["order_id"] == order["id"]]
    assert review["score"] >= 0.5 and review["reasons"]
    assert any("account created" in reason for reason in review["reasons"])
    assert held.get("shipments") == []  # nothing ships while held

    response = await shop.client.post(f"/v1/admin/reviews/{order['id']}",
                                      json={"decision": "approve", "note": "called the buyer"},
                                      headers=admin)
    assert response.status == 200 and (await response.json())["status"] == "approved"

    async def shipping() -> dict[str, Any] | None:
        view = await shop.order(auth, order["id"])
        return view if view["shipments"] and view["payments"][0]["status"] == "captured" \
            else None

    approved = await eventually(shipping, what="capture and shipments after approval")
    assert approved["status"] in PAID_OR_LATER
    again = await shop.client.post(f"/v1/admin/reviews/{order['id']}",
                                   json={"decision": "reject"}, headers=admin)
    assert again.status == 409  # decided already


async def test_a_rejected_order_is_cancelled_and_its_hold_released(shop: Any) -> None:
    auth, admin = await shop.sign_up(), await admin_of(shop)
    order = await shop.place(auth, BIG_ORDER)
    await shop.pay(auth, order["id"], "pm_sandbox_success")
    await decide(shop, admin, order["id"], "reject")
    view = await payment_becomes(shop, auth, order["id"], "cancelled",
                                  what="the authorization to be released")
    assert view["status"] == "cancelled" and view["shipments"] == []
    assert view["money"]["captured"] == 0
    charge = await SandboxCharge.select().where(SandboxCharge.order_id == order["id"]).first()
    assert charge["status"] == "cancelled"


async def _held_through_3ds(shop: Any, auth: dict[str, str]) -> dict[str, Any]:
    """A high-risk order paid by a card whose bank asks for 3-D Secure, which the customer
    then passes: the order is held, and its money only authorized."""
    order = await shop.place(auth, BIG_ORDER)
    operation = await shop.pay_to_the_end(auth, order["id"], "pm_sandbox_action_required")
    assert operation["result"]["status"] == "requires_action", operation
    url = operation["result"]["next_action"]["url"]
    response = await shop.client.get("/" + url.split("/", 3)[3])  # the bank's page
    assert response.status == 200, await response.text()

    held = await payment_becomes(shop, auth, order["id"], "authorized",
                                  what="the authorization after 3-D Secure")
    assert held["status"] == "on_hold" and held["review"] == "pending"
    [payment] = held["payments"]
    assert (payment["captured"], payment["authorized"]) == (0, order["total"])
    assert held["shipments"] == []
    charge = await SandboxCharge.select().where(SandboxCharge.order_id == order["id"]).first()
    assert (charge["status"], charge["capture_method"]) == ("authorized", "manual")
    return order


async def test_a_held_order_paid_through_3ds_is_only_authorized_until_approved(
    shop: Any,
) -> None:
    auth, admin = await shop.sign_up(), await admin_of(shop)
    order = await _held_through_3ds(shop, auth)
    await decide(shop, admin, order["id"], "approve")
    view = await payment_becomes(shop, auth, order["id"], "captured",
                                  what="the capture after approval")
    assert view["status"] in PAID_OR_LATER
    assert view["money"]["captured"] == order["total"]


async def test_a_held_order_paid_through_3ds_and_rejected_is_released(shop: Any) -> None:
    auth, admin = await shop.sign_up(), await admin_of(shop)
    order = await _held_through_3ds(shop, auth)
    await decide(shop, admin, order["id"], "reject")
    view = await payment_becomes(shop, auth, order["id"], "cancelled",
                                  what="the authorization to be released")
    assert view["status"] == "cancelled" and view["money"]["captured"] == 0
    charge = await SandboxCharge.select().where(SandboxCharge.order_id == order["id"]).first()
    assert charge["status"] == "cancelled"


async def test_a_held_order_approved_during_3ds_is_captured_once_authorized(
    shop: Any,
) -> None:
    auth, admin = await shop.sign_up(), await admin_of(shop)
    order = await shop.place(auth, BIG_ORDER)
    _, operation = await shop.pay(auth, order["id"], "pm_sandbox_action_required")
    assert operation["result"]["status"] == "requires_action", operation
    await decide(shop, admin, order["id"], "approve")
    charge = await SandboxCharge.select().where(SandboxCharge.order_id == order["id"]).first()
    assert charge["capture_method"] == "manual"
    url = operation["result"]["next_action"]["url"]
    response = await shop.client.get("/" + url.split("/", 3)[3])
    assert response.status == 200

    view = await payment_becomes(shop, auth, order["id"], "captured",
                                  what="the capture of the approved order")
    assert view["status"] in PAID_OR_LATER
    kinds = [t["status"] for t in await transitions(order["id"])]
    assert kinds.index("authorized") < kinds.index("captured")


async def test_a_held_order_cannot_be_paid_by_bank_transfer_and_a_card_then_holds_it(
    shop: Any,
) -> None:
    """A deposit into a virtual account cannot wait for the review: it is refused, nothing is
    issued, and the customer is told to pay by card, whose amount is then only held."""
    auth = await shop.sign_up()
    order = await shop.place(auth, BIG_ORDER)
    status, problem = await shop.pay(auth, order["id"], "pm_sandbox_virtual_account")
    assert status == 422, problem
    assert problem["type"] == "/problems/method-cannot-await-review"
    assert problem["title"] == "Payment method cannot wait for the order check"
    assert "Pay by card" in problem["detail"] and "Nothing was charged" in problem["detail"]
    view = await shop.order(auth, order["id"])
    assert view["status"] == "pending_payment" and view["payments"] == []
    assert await SandboxCharge.count().where(SandboxCharge.order_id == order["id"]) == 0
    assessed = await EvidenceRecord.count().where(
        (EvidenceRecord.subject == f"order:{order['id']}")
        & (EvidenceRecord.kind == "fraud.assessment"))
    assert assessed == 1  # the screen's verdict is kept

    status, operation = await shop.pay(auth, order["id"], "pm_sandbox_success")
    assert status == 200 and operation["result"]["status"] == "authorized", operation
    held = await shop.order(auth, order["id"])
    assert held["status"] == "on_hold" and held["payments"][0]["captured"] == 0


async def test_an_abandoned_3ds_step_is_cancelled_at_the_provider_too(shop: Any) -> None:
    auth = await shop.sign_up()
    order = await shop.place(auth, ORDER)
    _, operation = await shop.pay(auth, order["id"], "pm_sandbox_action_required")
    assert operation["result"]["status"] == "requires_action"
    expired = await shop.container.payments().expire_abandoned(timedelta(seconds=-60))
    assert expired == 1
    view = await shop.order(auth, order["id"])
    assert view["status"] == "pending_payment"
    assert view["payments"][0]["failure_code"] == "authentication_abandoned"

    async def cancelled_there() -> bool:
        charge = await SandboxCharge.select().where(
            SandboxCharge.order_id == order["id"]).first()
        return bool(charge["status"] == "cancelled")

    await eventually(cancelled_there, what="the provider to cancel the 3-D Secure step")
    # The bank's page now finds nothing to approve: no money can be taken for it later.
    url = operation["result"]["next_action"]["url"]
    response = await shop.client.get("/" + url.split("/", 3)[3])
    assert response.status == 404


async def test_kyc_asks_for_a_verified_identity_above_the_threshold(shop_factory: Any) -> None:
    shop = await shop_factory(kyc_rules=[{"country": "KR", "currency": "KRW",
                                          "threshold": 100_000}])
    auth, admin = await shop.sign_up(), await admin_of(shop)
    me = await (await shop.client.get("/v1/me", headers=auth)).json()
    order = await shop.place(auth, {**ORDER, "lines": [{**ORDER["lines"][0],
                                                        "unit_price": 150_000}]})
    status, problem = await shop.pay(auth, order["id"], "pm_sandbox_success")
    assert status == 422 and problem["type"] == "/problems/identity-verification-required"
    assert "verified identity" in problem["detail"] and "Nothing was charged" in problem["detail"]
    assert (await shop.order(auth, order["id"]))["status"] == "pending_payment"

    response = await shop.client.post(f"/v1/admin/customers/{me['id']}/identity-verification",
                                      headers=admin)
    assert response.status == 204
    status, operation = await shop.pay(auth, order["id"], "pm_sandbox_success")
    assert status == 200 and operation["status"] == "succeeded"


async def test_the_dispute_bundle_holds_the_orders_evidence_with_provenance(
    shop: Any,
) -> None:
    auth, admin = await shop.sign_up(), await admin_of(shop)
    order = await paid_order(shop, auth)
    response = await shop.client.get(f"/v1/admin/orders/{order['id']}/dispute-bundle",
                                     headers=admin)
    assert response.status == 200
    assert "attachment" in response.headers["Content-Disposition"]
    bundle = await response.json()
    assert bundle["order"]["id"] == order["id"] and bundle["chain"]["ok"] is True
    kinds = {record["kind"] for record in bundle["evidence"]}
    assert {"payment.requested", "fraud.assessment", "payment.transition"} <= kinds
    assert all(record["hash"] and record["source"] for record in bundle["evidence"])
    assert bundle["payments"][0]["events"]
    forbidden = await shop.client.get(f"/v1/admin/orders/{order['id']}/dispute-bundle",
                                      headers=auth)
    assert forbidden.status == 403


async def test_reconciliation_applies_what_a_lost_webhook_would_have_said(
    shop_factory: Any,
) -> None:
    # The sandbox never calls back for deposits here: only reconciliation can learn of one.
    shop = await shop_factory(sandbox_deposit_delay_seconds=3600)
    auth, admin = await shop.sign_up(), await admin_of(shop)
    order = await shop.place(auth, ORDER)
    _, operation = await shop.pay(auth, order["id"], "pm_sandbox_virtual_account")
    assert operation["result"]["status"] == "awaiting_deposit"
    # The money arrives at the provider; its webhook is lost.
    await SandboxCharge.update({SandboxCharge.status: "succeeded"}).where(
        SandboxCharge.order_id == order["id"])
    response = await shop.client.post("/v1/admin/payments/reconcile", headers=admin)
    report = await response.json()
    assert response.status == 200 and report["checked"] >= 1 and report["changed"] >= 1
    view = await shop.order(auth, order["id"])
    assert view["payments"][0]["status"] == "captured"
    assert view["status"] in PAID_OR_LATER


async def test_a_refund_that_may_have_been_paid_out_is_never_freed_for_a_second_one(
    shop_factory: Any,
) -> None:
    from domain.errors import ProviderUnavailable

    shop = await shop_factory(outbox_max_attempts=1)
    auth, admin = await shop.sign_up(), await admin_of(shop)
    order = await paid_order(shop, auth)
    gateway = shop.container.payment_gateways()["sandbox"]

    async def lost_answer(call: Any) -> Any:
        raise ProviderUnavailable("timed out after sending", request_sent=True)

    gateway.refund = lost_answer  # the provider may have refunded; we never heard back
    status, body = await refund(shop, admin, order["id"], 10000)
    assert status == 202 and body["status"] == "pending"

    async def flagged() -> list[dict[str, Any]]:
        return await Incident.select().where(Incident.kind == "refund_unconfirmed")

    [incident] = await eventually(flagged, what="an unconfirmed-refund incident")
    view = await shop.order(auth, order["id"])
    assert view["payments"][0]["refund_pending"] == 10000  # still reserved
    status, _ = await refund(shop, admin, order["id"], order["total"])
    assert status == 422  # the reserved amount cannot be refunded a second time
    assert order["id"] in incident["detail"]
