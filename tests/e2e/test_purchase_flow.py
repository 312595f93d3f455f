"""The whole purchase, through the HTTP API, on the sandbox providers."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

from adapters.persistence.tables import Incident, NotificationLog
from domain.customers import Role
from tests.e2e.order_steps import customer_with_order, shop_with_order
from tests.helpers import ORDER, PAID_OR_LATER, eventually

pytestmark = pytest.mark.timeout(60)


async def test_register_login_order_pay_ship_deliver_notify_track_and_verify(
    shop: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    auth = await shop.sign_up("ada@example.com")
    me = await (await shop.client.get("/v1/me", headers=auth)).json()
    assert me["email"] == "ada@example.com"

    order = await shop.place(auth, ORDER)
    assert order["status"] == "pending_payment"
    assert order["total"] == 2 * 15000 + 9000

    # A virtual account: the answer comes at once, the money later by a signed webhook.
    status, operation = await shop.pay(auth, order["id"], "pm_sandbox_virtual_account")
    assert status == 200
    assert operation["result"]["status"] == "awaiting_deposit"
    assert operation["result"]["deposit_account"]["amount"] == order["total"]
    assert (await shop.order(auth, order["id"]))["status"] in ("awaiting_deposit", "paid",
                                                               "shipped", "delivered")

    async def delivered() -> dict[str, Any] | None:
        view = await shop.order(auth, order["id"])
        return view if view["status"] == "delivered" else None

    final = await eventually(delivered, timeout=30, what="the order to be delivered")
    assert final["payments"][0]["status"] == "captured"
    assert [s["seller_id"] for s in final["shipments"]] == ["seller-a", "seller-b"]
    assert all(s["status"] == "delivered" and s["tracking_number"] for s in final["shipments"])

    # The customer was told, on each step, and analytics got pseudonymous events.
    async def notified() -> list[str]:
        rows = await NotificationLog.select(NotificationLog.template).where(
            NotificationLog.owner == me["id"])
        templates = [row["template"] for row in rows]
        return templates if "order_delivered" in templates else []

    templates = await eventually(notified, what="the delivery notification")
    assert "awaiting_deposit" in templates and "order_paid" in templates
    assert templates.count("order_delivered") == 1

    async def analytics_events() -> list[dict[str, Any]]:
        events = [json.loads(r.getMessage()) for r in caplog.records
                  if r.name == "mall.analytics"]
        return events if any(e["event"] == "Order Delivered" for e in events) else []

    events = await eventually(analytics_events, what="analytics events")
    names = {e["event"] for e in events}
    assert {"Signed Up", "Order Placed", "Order Completed", "Order Delivered"} <= names
    for event in events:
        blob = json.dumps(event)
        assert "ada@example.com" not in blob and me["id"] not in blob
        assert order["id"] not in blob
        assert event["anonymousId"].startswith("anon_")

    # The evidence ledger holds the story of the order, and its chain verifies.
    await shop.container.accounts().register("admin@example.com", "admin password 1",
                                             role=Role.ADMIN)
    admin = await _login(shop, "admin@example.com", "admin password 1")
    response = await shop.client.get(f"/v1/admin/evidence?subject=order:{order['id']}",
                                     headers=admin)
    assert response.status == 200
    kinds = [r["kind"] for r in (await response.json())["records"]]
    for kind in ("payment.requested", "provider.charge", "payment.transition",
                 "webhook.received", "shipment.created", "shipment.transition"):
        assert kind in kinds, kind
    report = await (await shop.client.post("/v1/admin/evidence/verify", headers=admin)).json()
    assert report["ok"] is True and report["checked"] > 10

    # Only admins read evidence.
    response = await shop.client.get(f"/v1/admin/evidence?subject=order:{order['id']}",
                                     headers=auth)
    assert response.status == 403


async def _login(shop: Any, email: str, password: str) -> dict[str, str]:
    response = await shop.client.post("/v1/auth/login",
                                      json={"email": email, "password": password})
    token = (await response.json())["access_token"]
    return {"Authorization": f"Bearer {token}"}


async def test_card_payment_succeeds_at_once(shop: Any) -> None:
    auth, order = await customer_with_order(shop)
    status, operation = await shop.pay(auth, order["id"], "pm_sandbox_success")
    assert status == 200
    assert operation["status"] == "succeeded"
    assert operation["result"]["status"] == "captured"
    assert operation["message"].startswith("Payment succeeded")
    view = await shop.order(auth, order["id"])
    assert view["status"] in PAID_OR_LATER


async def test_declined_card_tells_the_customer_what_to_do_and_allows_a_retry(shop: Any) -> None:
    auth, order = await customer_with_order(shop)
    status, operation = await shop.pay(auth, order["id"],
                                       "pm_sandbox_decline_insufficient_funds")
    assert status == 200
    assert operation["status"] == "failed"
    assert operation["result"]["failure_code"] == "insufficient_funds"
    assert "insufficient funds" in operation["message"]
    assert "another card" in operation["message"]
    assert (await shop.order(auth, order["id"]))["status"] == "pending_payment"

    status, operation = await shop.pay(auth, order["id"], "pm_sandbox_success")
    assert status == 200 and operation["status"] == "succeeded"


async def test_action_required_gives_the_next_step_and_completes_by_webhook(shop: Any) -> None:
    auth, order = await customer_with_order(shop)
    status, operation = await shop.pay(auth, order["id"], "pm_sandbox_action_required")
    assert status == 200
    next_action = operation["result"]["next_action"]
    assert next_action["type"] == "redirect_to_url"
    path = next_action["url"].split("//", 1)[1].split("/", 1)[1]
    assert (await shop.client.get("/" + path)).status == 200

    async def paid() -> bool:
        return (await shop.order(auth, order["id"]))["status"] in PAID_OR_LATER

    await eventually(paid, what="the payment to complete after 3-D Secure")


async def test_delivery_exception_opens_an_incident_and_tells_customer_and_seller(
    shop: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    auth = await shop.sign_up()
    order_body = {**ORDER, "lines": ORDER["lines"][:1],
                  "shipping_address": {**ORDER["shipping_address"], "postal_code": "00000"}}
    order = await shop.place(auth, order_body)
    status, _ = await shop.pay(auth, order["id"], "pm_sandbox_success")
    assert status == 200

    async def incident() -> list[dict[str, Any]]:
        return await Incident.select().where(Incident.subject == f"order:{order['id']}")

    incidents = await eventually(incident, what="a delivery incident")
    assert incidents[0]["kind"] == "delivery_exception"
    assert "address_error" in incidents[0]["detail"]

    async def both_told() -> set[str]:
        rows = await NotificationLog.select().where(
            NotificationLog.template.is_in(["delivery_exception", "delivery_exception_seller"]))
        owners = {row["owner"] for row in rows}
        return owners if len(owners) == 2 else set()

    owners = await eventually(both_told, what="customer and seller notifications")
    assert "seller:seller-a" in owners
    await eventually(lambda: _alerted(caplog), what="an operator alert")
    view = await shop.order(auth, order["id"])
    assert view["shipments"][0]["status"] == "exception"


async def _alerted(caplog: pytest.LogCaptureFixture) -> bool:
    return any(r.name == "mall.alerts" and "delivery exception" in r.getMessage()
               for r in caplog.records)


async def test_abandoned_attempts_are_cancelled_and_the_order_can_be_paid_again(
    shop_factory: Any,
) -> None:
    from datetime import timedelta

    shop, auth, three_ds = await shop_with_order(shop_factory, sandbox_deposit_delay_seconds=3600)
    transfer = await shop.place(auth, ORDER)
    assert (await shop.pay(auth, three_ds["id"], "pm_sandbox_action_required"))[0] == 200
    assert (await shop.pay(auth, transfer["id"], "pm_sandbox_virtual_account"))[0] == 200

    # Nothing is old enough yet; then the 3-D Secure step is abandoned, while the virtual
    # account still has three days to go.
    assert await shop.container.payments().expire_abandoned(timedelta(minutes=30)) == 0
    assert await shop.container.payments().expire_abandoned(timedelta(0)) == 1
    view = await shop.order(auth, three_ds["id"])
    assert view["status"] == "pending_payment"
    assert view["payments"][0]["status"] == "cancelled"
    assert view["payments"][0]["failure_code"] == "authentication_abandoned"
    assert (await shop.order(auth, transfer["id"]))["status"] == "awaiting_deposit"
    status, operation = await shop.pay(auth, three_ds["id"], "pm_sandbox_success")
    assert status == 200 and operation["status"] == "succeeded"


async def test_an_expired_virtual_account_cancels_the_order_and_tells_the_customer(
    shop_factory: Any,
) -> None:
    from datetime import timedelta

    from adapters.persistence.tables import NotificationLog, Payment

    shop, auth, order = await shop_with_order(shop_factory, sandbox_deposit_delay_seconds=3600)
    _, operation = await shop.pay(auth, order["id"], "pm_sandbox_virtual_account")
    account = operation["result"]["deposit_account"]
    assert account["expires_at"] and account["account_number"]
    # Three days later, nothing was deposited.
    past = json.dumps({**account, "expires_at": "2020-01-01T00:00:00+00:00"})
    await Payment.update({Payment.deposit_account: past}).where(
        Payment.order_id == order["id"])
    assert await shop.container.payments().expire_abandoned(timedelta(0)) == 1
    view = await shop.order(auth, order["id"])
    assert view["status"] == "cancelled"
    payment = view["payments"][0]
    assert payment["status"] == "cancelled" and payment["failure_code"] == "deposit_expired"
    assert "deadline passed" in payment["failure"]["message"]
    korean = await shop.client.get(f"/v1/orders/{order['id']}",
                                   headers={**auth, "Accept-Language": "ko-KR,ko;q=0.9"})
    assert "입금 기한" in (await korean.json())["payments"][0]["failure"]["message"]
    assert korean.headers["Content-Language"] == "ko"

    async def told() -> bool:
        return bool(await NotificationLog.count().where(
            (NotificationLog.template == "order_cancelled")
            & (NotificationLog.subject == order["id"])))

    await eventually(told, what="the cancellation notice")
