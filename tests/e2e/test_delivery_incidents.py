"""Delivery incidents through the HTTP API on the sandbox carrier: a parcel whose address is
not found opens an incident; the customer corrects the address and asks for a reshipment,
which is delivered; one left alone escalates once its deadline has passed (the clock moved);
and what the customer cannot do is a 4xx that says why."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta
from typing import Any

import pytest

from domain.customers import Role
from tests.helpers import ORDER, eventually

pytestmark = pytest.mark.timeout(90)
NOT_FOUND_ADDRESS = {**ORDER["shipping_address"], "postal_code": "00000"}  # the sandbox fails it
GOOD_ADDRESS = {"recipient": "Ada Lovelace", "line1": "2 Jong-ro", "line2": "Unit 5",
                "city": "Seoul", "postal_code": "03154", "country": "KR"}


async def _failed_order(shop: Any) -> tuple[dict[str, str], str, dict[str, Any]]:
    """A customer's paid one-parcel order the carrier could not deliver, and its incident."""
    auth = await shop.sign_up()
    order = await shop.place(auth, {**ORDER, "lines": ORDER["lines"][:1],
                                    "shipping_address": NOT_FOUND_ADDRESS})
    status, _ = await shop.pay(auth, order["id"], "pm_sandbox_success")
    assert status == 200

    async def opened() -> list[dict[str, Any]]:
        response = await shop.client.get(f"/v1/orders/{order['id']}/delivery-incidents",
                                         headers=auth)
        assert response.status == 200, await response.text()
        return list((await response.json())["incidents"])

    [incident] = await eventually(opened, timeout=40, what="a delivery incident")
    return auth, order["id"], incident


async def _act(shop: Any, auth: dict[str, str], order_id: str, incident_id: str,
               body: dict[str, Any], key: str | None = None) -> tuple[int, dict[str, Any]]:
    response = await shop.client.post(
        f"/v1/orders/{order_id}/delivery-incidents/{incident_id}/actions", json=body,
        headers={**auth, "Idempotency-Key": key or uuid.uuid4().hex})
    return response.status, dict(await response.json())


async def test_the_address_fix_and_a_reshipment_close_the_incident_and_deliver(
        shop: Any) -> None:
    auth, order_id, incident = await _failed_order(shop)
    assert (incident["problem"], incident["owner"], incident["status"]) == (
        "address_problem", "customer", "awaiting_customer")
    assert incident["options"] == ["correct_address", "reschedule", "reshipment", "refund"]

    status, fixed = await _act(shop, auth, order_id, incident["id"],
                               {"option": "correct_address", "shipping_address": GOOD_ADDRESS})
    assert status == 200, fixed
    assert (fixed["status"], fixed["address_corrected"]) == ("awaiting_customer", True)
    assert (await shop.order(auth, order_id))["shipping_address"] == GOOD_ADDRESS

    key = uuid.uuid4().hex
    status, closed = await _act(shop, auth, order_id, incident["id"], {"option": "reshipment"},
                                key)
    assert status == 200, closed
    assert (closed["status"], closed["resolution"], closed["options"]) == (
        "resolved", "reshipped", [])
    new_shipment = closed["steps"][-1]["shipment_id"]
    # A retry with the same key gets the same answer and books nothing more.
    status, again = await _act(shop, auth, order_id, incident["id"], {"option": "reshipment"},
                               key)
    assert (status, again) == (200, closed)
    assert len((await shop.order(auth, order_id))["shipments"]) == 2

    async def reshipment_delivered() -> dict[str, Any] | None:
        view = await shop.order(auth, order_id)
        shipments = {s["id"]: s["status"] for s in view["shipments"]}
        return view if shipments.get(new_shipment) == "delivered" else None

    view = await eventually(reshipment_delivered, timeout=40, what="the reshipment delivered")
    assert sorted(s["status"] for s in view["shipments"]) == ["delivered", "exception"]

    # What cannot be done any more, or by anyone else, is refused with a reason.
    status, problem = await _act(shop, auth, order_id, incident["id"], {"option": "refund"})
    assert status == 409 and "resolved already" in problem["detail"]
    stranger = await shop.sign_up()
    status, problem = await _act(shop, stranger, order_id, incident["id"],
                                 {"option": "refund"})
    assert status == 404 and "no delivery incident" in problem["detail"]
    status, problem = await _act(shop, auth, order_id, "inc_unknown", {"option": "refund"})
    assert status == 404 and "inc_unknown" in problem["detail"]
    response = await shop.client.get(f"/v1/orders/{order_id}/delivery-incidents",
                                     headers=stranger)
    assert response.status == 404

    # The story is evidence, without the address.
    await shop.container.accounts().register("ops@example.com", "admin password 1",
                                             role=Role.ADMIN)
    admin = await _login(shop, "ops@example.com", "admin password 1")
    response = await shop.client.get(f"/v1/admin/evidence?subject=order:{order_id}",
                                     headers=admin)
    records = (await response.json())["records"]
    kinds = [r["kind"] for r in records if r["kind"].startswith("incident.")]
    assert kinds == ["incident.opened", "incident.address_corrected", "incident.reshipped"]
    # The postcode as a value of its own: hex ids and hashes hold its digits by chance.
    assert "Jong-ro" not in str(records)
    assert not re.search(r"(?<![0-9a-f])03154(?![0-9a-f])", str(records))


async def test_bodies_that_do_not_fit_the_option_are_refused(shop: Any) -> None:
    auth, order_id, incident = await _failed_order(shop)
    for body, words in (
            ({"option": "correct_address"}, "shipping_address goes with"),
            ({"option": "reschedule"}, "delivery_date goes with"),
            ({"option": "refund", "delivery_date": "2030-01-01"}, "delivery_date goes with"),
            ({"option": "collect_in_person"}, "option"),
            ({"option": "reschedule", "delivery_date": "2020-01-01"}, "after today"),
            ({"option": "correct_address",
              "shipping_address": {**GOOD_ADDRESS, "country": "JP"}}, "stay in KR")):
        status, problem = await _act(shop, auth, order_id, incident["id"], body)
        assert status == 422, (body, problem)
        assert words in problem["detail"], (body, problem)
    [still] = (await (await shop.client.get(f"/v1/orders/{order_id}/delivery-incidents",
                                            headers=auth)).json())["incidents"]
    assert still["status"] == "awaiting_customer" and still["steps"] == incident["steps"]


async def test_an_ignored_incident_escalates_after_its_deadline(
        shop: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    auth, order_id, incident = await _failed_order(shop)
    incidents = shop.container.delivery_incidents()
    assert await incidents.escalate_overdue() == 0
    clock = shop.container.clock()
    real_now = clock.now
    monkeypatch.setattr(clock, "now", lambda: real_now() + timedelta(hours=48, minutes=1))
    assert await incidents.escalate_overdue() == 1
    assert await incidents.escalate_overdue() == 0  # once

    await shop.container.accounts().register("ops@example.com", "admin password 1",
                                             role=Role.ADMIN)
    admin = await _login(shop, "ops@example.com", "admin password 1")
    response = await shop.client.get("/v1/admin/delivery-incidents?status=escalated",
                                      headers=admin)
    assert response.status == 200
    [escalated] = (await response.json())["incidents"]
    assert (escalated["id"], escalated["status"]) == (incident["id"], "escalated")
    response = await shop.client.get("/v1/admin/delivery-incidents?status=lost",
                                      headers=admin)
    assert response.status == 400

    # The customer can still settle it (back in the present, where their token is good).
    monkeypatch.setattr(clock, "now", real_now)
    status, closed = await _act(shop, auth, order_id, incident["id"], {"option": "refund"})
    assert status == 200 and closed["resolution"] == "refunded"
    assert (await shop.client.get("/v1/admin/delivery-incidents", headers=auth)).status == 403


async def _login(shop: Any, email: str, password: str) -> dict[str, str]:
    response = await shop.client.post("/v1/auth/login",
                                      json={"email": email, "password": password})
    token = (await response.json())["access_token"]
    return {"Authorization": f"Bearer {token}"}


async def test_a_second_attempt_that_delivers_resolves_the_incident(shop: Any) -> None:
    auth = await shop.sign_up()
    order = await shop.place(auth, {**ORDER, "lines": ORDER["lines"][:1], "shipping_address": {
        **ORDER["shipping_address"], "line2": "scenario:failed_attempt"}})
    status, _ = await shop.pay(auth, order["id"], "pm_sandbox_success")
    assert status == 200

    async def resolved() -> list[dict[str, Any]]:
        response = await shop.client.get(f"/v1/orders/{order['id']}/delivery-incidents",
                                         headers=auth)
        found = list((await response.json())["incidents"])
        return found if found and found[0]["status"] == "resolved" else []

    [incident] = await eventually(resolved, timeout=40, what="the incident resolved")
    assert (incident["problem"], incident["resolution"]) == ("failed_attempt", "delivered")
    assert [s["step"] for s in incident["steps"]] == ["opened", "delivered"]
    assert (await shop.order(auth, order["id"]))["status"] == "delivered"
