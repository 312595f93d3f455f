"""Provider callbacks: verified, stored once, applied once, whatever the delivery pattern."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest

from adapters.persistence.tables import EvidenceRecord, InboxMessage, NotificationLog, Payment
from adapters.signing import sign
from domain.redaction import card_safe_id
from tests.e2e.order_steps import customer_with_order, operation_ends, shop_with_order
from tests.helpers import PAID_OR_LATER, eventually, work_done

pytestmark = pytest.mark.timeout(90)
SECRET = "whsec_sandbox_payments_dev"


async def _awaiting_deposit(shop: Any) -> tuple[dict[str, str], dict[str, Any], str]:
    auth, order = await customer_with_order(shop)
    status, operation = await shop.pay(auth, order["id"], "pm_sandbox_virtual_account")
    assert status == 200 and operation["result"]["status"] == "awaiting_deposit"
    row = await Payment.select(Payment.provider_reference).where(
        Payment.order_id == order["id"]).first()
    return auth, order, row["provider_reference"]


def _event(kind: str, data: dict[str, Any], event_id: str | None = None) -> bytes:
    """A sandbox callback's body: a new event id unless given, created now."""
    return json.dumps({"id": event_id or card_safe_id("evt"), "type": kind,
                       "created": int(time.time()), "data": data}).encode()


def _deposit_event(reference: str, order_id: str, event_id: str | None = None) -> bytes:
    return _event("virtual_account.deposited", {
        "reference": reference, "order_id": order_id, "status": "succeeded",
        "amount": 39000, "currency": "KRW", "failure_code": None}, event_id)


async def _acknowledged(shop: Any, body: bytes, secret: str = SECRET) -> Any:
    """Deliver a callback signed with `secret`; the app answers 200."""
    response = await shop.client.post("/v1/webhooks/sandbox", data=body,
                                      headers={"Sandbox-Signature": sign(secret, body)})
    assert response.status == 200, secret
    return response


async def _transitions(order_id: str, status: str) -> int:
    rows = await EvidenceRecord.select(EvidenceRecord.payload).where(
        (EvidenceRecord.subject == f"order:{order_id}")
        & (EvidenceRecord.kind == "payment.transition"))
    return sum(1 for row in rows if json.loads(row["payload"])["status"] == status)


async def test_fifty_concurrent_copies_give_fifty_acks_and_one_state_change(
    shop_factory: Any,
) -> None:
    shop = await shop_factory(sandbox_deposit_delay_seconds=3600)
    auth, order, reference = await _awaiting_deposit(shop)
    body = _deposit_event(reference, order["id"])
    headers = {"Sandbox-Signature": sign(SECRET, body), "Content-Type": "application/json"}

    responses = await asyncio.gather(*[
        shop.client.post("/v1/webhooks/sandbox", data=body, headers=headers) for _ in range(50)
    ])
    assert [r.status for r in responses] == [200] * 50
    outcomes = [(await r.json())["status"] for r in responses]
    assert outcomes.count("accepted") == 1 and outcomes.count("duplicate") == 49

    async def paid() -> bool:
        return (await shop.order(auth, order["id"]))["status"] in PAID_OR_LATER

    await eventually(paid, what="the deposit to mark the order paid")
    # A later copy under another event id (the provider re-sent it) changes nothing either.
    await _acknowledged(shop, _deposit_event(reference, order["id"]))
    await eventually(work_done, what="the later copy to be processed")
    assert await InboxMessage.count().where(InboxMessage.provider == "sandbox") == 2
    assert await _transitions(order["id"], "captured") == 1
    paid_notices = await NotificationLog.count().where(
        (NotificationLog.template == "order_paid") & (NotificationLog.subject == order["id"]))
    assert paid_notices == 1


@pytest.mark.parametrize("tamper", ["body", "secret", "stale", "missing"])
async def test_a_bad_signature_is_refused_and_nothing_is_stored(shop_factory: Any,
                                                                tamper: str) -> None:
    shop = await shop_factory(sandbox_deposit_delay_seconds=3600)
    auth, order, reference = await _awaiting_deposit(shop)
    body = _deposit_event(reference, order["id"])
    signature = {
        "body": sign(SECRET, body),
        "secret": sign("whsec_someone_else", body),
        "stale": sign(SECRET, body, timestamp=int(time.time()) - 3600),
        "missing": "",
    }[tamper]
    sent = body.replace(b"39000", b"1") if tamper == "body" else body
    # The order's own messages settle first: only what the callback leaves is counted.
    await eventually(work_done, what="the order's background work to finish")
    before = await EvidenceRecord.count()
    response = await shop.client.post("/v1/webhooks/sandbox", data=sent,
                                      headers={"Sandbox-Signature": signature})
    assert response.status == 400
    problem = await response.json()
    assert response.content_type == "application/problem+json"
    assert problem["type"] == "/problems/invalid-signature" and problem["detail"]
    assert await InboxMessage.count() == 0
    assert await EvidenceRecord.count() == before
    await eventually(work_done, what="the background work to finish")
    assert (await shop.order(auth, order["id"]))["status"] == "awaiting_deposit"


async def test_both_secrets_are_accepted_during_a_rotation(shop_factory: Any) -> None:
    shop = await shop_factory(sandbox_deposit_delay_seconds=3600,
                              sandbox_webhook_secrets=["whsec_new", SECRET])
    _, order, reference = await _awaiting_deposit(shop)
    for secret in ("whsec_new", SECRET):
        await _acknowledged(shop, _deposit_event(reference, order["id"]), secret)


async def test_unknown_provider_is_a_404(shop: Any) -> None:
    response = await shop.client.post("/v1/webhooks/nobody", data=b"{}")
    assert response.status == 404
    assert (await response.json())["status"] == 404


async def test_a_callback_that_never_matches_is_set_aside_with_an_incident(
    shop_factory: Any,
) -> None:
    from adapters.persistence.tables import Incident

    shop = await shop_factory(inbox_give_up_after_seconds=0)
    await _acknowledged(shop, _deposit_event("sbx_not_ours", "ord_unknown"))
    await eventually(lambda: InboxMessage.select().where(InboxMessage.status == "unmatched"),
                     what="the unmatched callback to be set aside")
    incidents = await Incident.select().where(Incident.kind == "webhook_unmatched")
    assert len(incidents) == 1 and "virtual_account.deposited" in incidents[0]["detail"]


async def test_a_late_charge_for_an_order_paid_otherwise_is_refunded_with_an_incident(
    shop_factory: Any,
) -> None:
    from adapters.persistence.tables import Incident

    shop, auth, order = await shop_with_order(shop_factory, outbox_max_attempts=1)
    _, first = await shop.pay(auth, order["id"], "pm_sandbox_unavailable")
    await operation_ends(shop, auth, first["id"], "failed", what="the first attempt to give up")
    status, second = await shop.pay(auth, order["id"], "pm_sandbox_success")
    assert status == 200 and second["status"] == "succeeded"

    # The provider that "timed out" reports, much later, that it charged the first attempt.
    from adapters.persistence.tables import SandboxCharge

    first_payment = first["subject"].removeprefix("payment:")
    await SandboxCharge.insert(SandboxCharge(
        idempotency_key=first_payment, reference="sbx_late", status="succeeded",
        amount=order["total"], currency=order["currency"], scenario="success",
        order_id=order["id"], merchant_reference=first_payment,
        created_at=shop.container.clock().now()))
    await _acknowledged(shop, _event("payment.succeeded", {
        "reference": "sbx_late", "order_id": order["id"], "status": "succeeded",
        "metadata": {"payment_id": first_payment}}))
    [found] = await eventually(
        lambda: Incident.select().where(Incident.kind == "surplus_charge"),
        what="a surplus-charge incident")
    assert first_payment in found["detail"]
    # The customer is never charged twice: the late charge is given back at once.
    async def returned() -> dict[str, Any] | None:
        view = await shop.order(auth, order["id"])
        return view if [p["status"] for p in view["payments"]] == ["refunded", "captured"] \
            else None

    view = await eventually(returned, what="the late charge to be refunded")
    assert view["status"] in PAID_OR_LATER
    assert view["money"]["net"] == view["total"]


async def test_a_callback_that_contradicts_what_we_know_is_set_aside_not_retried(
    shop: Any,
) -> None:
    from adapters.persistence.tables import Incident

    auth, order = await customer_with_order(shop)
    _, operation = await shop.pay(auth, order["id"], "pm_sandbox_success")
    payment_id = operation["result"]["payment_id"]
    # It names our payment, but with a reference the payment does not have.
    await _acknowledged(shop, _event("payment.succeeded", {
        "reference": "sbx_someone_else", "order_id": order["id"], "status": "succeeded",
        "metadata": {"payment_id": payment_id}}))
    [_] = await eventually(lambda: InboxMessage.select().where(InboxMessage.status == "rejected"),
                           what="the contradicting callback set aside")
    [incident] = await Incident.select().where(Incident.kind == "webhook_rejected")
    assert "does not belong to payment" in incident["detail"]
    view = await shop.order(auth, order["id"])
    assert view["payments"][0]["status"] == "captured"  # what we knew stands
