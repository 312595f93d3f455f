"""Idempotency-Key on the storefront: a key is bound to the endpoint and the JSON content of its
first request; a retry replays, anything else is refused with what differs."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from adapters.persistence.tables import Order, Payment
from tests.helpers import ORDER

pytestmark = pytest.mark.timeout(60)

PAY = {"payment_method": "pm_sandbox_success"}


async def test_the_same_key_on_another_order_names_the_endpoint_it_was_used_for(
    shop: Any,
) -> None:
    auth = await shop.sign_up()
    first, second = await shop.place(auth, ORDER), await shop.place(auth, ORDER)
    key = uuid.uuid4().hex
    assert (await shop.pay(auth, first["id"], PAY["payment_method"], key))[0] == 200
    status, problem = await shop.pay(auth, second["id"], PAY["payment_method"], key)
    assert status == 422 and problem["type"] == "/problems/idempotency-key-reused"
    assert f"used for POST /v1/orders/{first['id']}/payments" in problem["detail"]
    assert f"new key for POST /v1/orders/{second['id']}/payments" in problem["detail"]
    assert "body" not in problem["detail"]
    assert await Payment.count().where(Payment.order_id == second["id"]) == 0


async def test_the_same_content_reformatted_replays_and_another_body_says_so(
    shop: Any,
) -> None:
    auth = await shop.sign_up()
    order = await shop.place(auth, ORDER)
    path, key = f"/v1/orders/{order['id']}/payments", uuid.uuid4().hex
    headers = {**auth, "Idempotency-Key": key, "Content-Type": "application/json"}
    first = await shop.client.post(path, data=json.dumps(PAY), headers=headers)
    again = await shop.client.post(path, data=json.dumps(PAY, indent=2), headers=headers)
    assert first.status == again.status == 200
    assert again.headers["Idempotent-Replayed"] == "true"
    assert await again.json() == await first.json()
    other = await shop.client.post(path, json={"payment_method": "pm_sandbox_decline"},
                                   headers=headers)
    assert other.status == 422
    detail = (await other.json())["detail"]
    assert f"used for POST {path} with a different body" in detail


async def test_an_order_placed_with_a_key_is_placed_once(shop: Any) -> None:
    auth = await shop.sign_up()
    key = uuid.uuid4().hex
    headers = {**auth, "Idempotency-Key": key}
    first = await shop.client.post("/v1/orders", json=ORDER, headers=headers)
    again = await shop.client.post("/v1/orders", json=ORDER, headers=headers)
    assert first.status == again.status == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    placed = await first.json()
    assert (await again.json())["id"] == placed["id"]
    assert first.headers["Location"] == f"/v1/orders/{placed['id']}"
    assert await shop.order(auth, placed["id"]) == placed  # the answer is the order as stored
    assert await Order.count() == 1

    changed = await shop.client.post("/v1/orders", json={**ORDER, "note": "leave it at the door"},
                                     headers=headers)
    assert changed.status == 422
    assert "used for POST /v1/orders with a different body" in (await changed.json())["detail"]
    # The key of an order cannot pay for it.
    status, problem = await shop.pay(auth, placed["id"], "pm_sandbox_success", key)
    assert status == 422 and "used for POST /v1/orders;" in problem["detail"]
    assert await Order.count() == 1

    # Without a key an order is placed each time, as before.
    assert (await shop.client.post("/v1/orders", json=ORDER, headers=auth)).status == 201
    assert await Order.count() == 2


async def test_the_document_says_orders_take_an_optional_key(shop: Any) -> None:
    document = await (await shop.client.get("/v1/openapi.json")).json()
    parameters = document["paths"]["/v1/orders"]["post"]["parameters"]
    assert any(p["name"] == "Idempotency-Key" and not p["required"] for p in parameters)
