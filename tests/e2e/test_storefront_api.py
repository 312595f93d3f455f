"""The storefront API's contract: auth, ownership, validation, idempotency, operations."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import pytest

from adapters.persistence.tables import IdempotencyKey, Payment
from tests.e2e.order_steps import customer_with_order, operation_ends, shop_with_order
from tests.helpers import ORDER, eventually

pytestmark = pytest.mark.timeout(60)


async def test_orders_belong_to_their_customer(shop: Any) -> None:
    alice, bob = await shop.sign_up(), await shop.sign_up()
    order = await shop.place(alice, ORDER)
    response = await shop.client.get(f"/v1/orders/{order['id']}", headers=bob)
    assert response.status == 404
    assert (await response.json())["type"] == "/problems/not-found"
    status, _ = await shop.pay(bob, order["id"], "pm_sandbox_success")
    assert status == 404
    listing = await (await shop.client.get("/v1/orders", headers=bob)).json()
    assert listing == {"orders": [], "next_cursor": None}
    listing = await (await shop.client.get("/v1/orders", headers=alice)).json()
    assert [o["id"] for o in listing["orders"]] == [order["id"]]


async def test_orders_are_listed_newest_first_a_page_at_a_time(shop: Any) -> None:
    auth = await shop.sign_up()
    placed = [(await shop.place(auth, ORDER))["id"] for _ in range(5)]
    seen, cursor = [], None
    while True:
        query = f"?limit=2&cursor={cursor}" if cursor else "?limit=2"
        page = await (await shop.client.get(f"/v1/orders{query}", headers=auth)).json()
        assert len(page["orders"]) <= 2
        seen += [o["id"] for o in page["orders"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == placed[::-1]
    for bad in ("limit=0", "limit=101", "limit=ten"):
        response = await shop.client.get(f"/v1/orders?{bad}", headers=auth)
        assert 400 <= response.status < 500, bad


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer not-a-token"},
                                     {"Authorization": "Basic abc"}])
async def test_signed_out_requests_get_a_401_problem(shop: Any, headers: dict[str, str]) -> None:
    response = await shop.client.get("/v1/me", headers=headers)
    assert response.status == 401
    assert response.content_type == "application/problem+json"
    detail = (await response.json())["detail"]
    assert "sign in" in detail or "signed in" in detail


async def test_registration_and_login_errors_are_clear(shop: Any) -> None:
    await shop.sign_up("taken@example.com")
    response = await shop.client.post("/v1/auth/register", json={
        "email": "taken@example.com", "password": "another long password"})
    assert response.status == 409
    response = await shop.client.post("/v1/auth/register", json={
        "email": "short@example.com", "password": "short"})
    assert response.status == 422 and "at least" in (await response.json())["detail"]
    response = await shop.client.post("/v1/auth/login", json={
        "email": "taken@example.com", "password": "wrong password!"})
    assert response.status == 401
    response = await shop.client.post("/v1/auth/login", json={
        "email": "nobody@example.com", "password": "wrong password!"})
    assert response.status == 401


@pytest.mark.parametrize("body", [
    b"not json",
    json.dumps({**ORDER, "lines": []}).encode(),
    json.dumps({**ORDER, "currency": "ZZZ"}).encode(),
    json.dumps({**ORDER, "carrier": "pigeon"}).encode(),
    json.dumps({**ORDER, "lines": [{**ORDER["lines"][0], "quantity": 0}]}).encode(),
    json.dumps({**ORDER, "unexpected": 1}).encode(),
    json.dumps({**ORDER, "shipping_address": {**ORDER["shipping_address"],
                                              "country": "Korea"}}).encode(),
])
async def test_bad_order_input_is_a_4xx_problem_never_a_500(shop: Any, body: bytes) -> None:
    auth = await shop.sign_up()
    response = await shop.client.post("/v1/orders", data=body, headers=auth)
    assert 400 <= response.status < 500
    problem = await response.json()
    assert problem["status"] == response.status and problem["detail"]
    assert "Traceback" not in json.dumps(problem)


async def test_same_key_same_body_replays_the_first_answer(shop: Any) -> None:
    auth, order = await customer_with_order(shop)
    key = uuid.uuid4().hex
    first = await shop.client.post(f"/v1/orders/{order['id']}/payments",
                                   json={"payment_method": "pm_sandbox_success"},
                                   headers={**auth, "Idempotency-Key": key})
    second = await shop.client.post(f"/v1/orders/{order['id']}/payments",
                                    json={"payment_method": "pm_sandbox_success"},
                                    headers={**auth, "Idempotency-Key": key})
    assert first.status == second.status == 200
    assert await first.json() == await second.json()
    assert second.headers["Idempotent-Replayed"] == "true"
    assert await Payment.count().where(Payment.order_id == order["id"]) == 1

    other_body = await shop.client.post(f"/v1/orders/{order['id']}/payments",
                                        json={"payment_method": "pm_sandbox_decline"},
                                        headers={**auth, "Idempotency-Key": key})
    assert other_body.status == 422
    assert (await other_body.json())["type"] == "/problems/idempotency-key-reused"


async def test_a_request_still_in_flight_is_a_409(shop: Any) -> None:
    auth, order = await customer_with_order(shop)
    key = uuid.uuid4().hex
    first = asyncio.create_task(shop.pay(auth, order["id"], "pm_sandbox_stall", key))

    async def reserved() -> bool:
        return await IdempotencyKey.count().where(IdempotencyKey.status == "in_flight") == 1

    await eventually(reserved, what="the first request to hold its key")
    status, problem = await shop.pay(auth, order["id"], "pm_sandbox_stall", key)
    assert status == 409
    assert problem["type"] == "/problems/request-in-flight" and problem["retryable"] is True
    status, _ = await first
    assert status == 202


async def test_keys_are_scoped_per_customer(shop: Any) -> None:
    alice, bob = await shop.sign_up(), await shop.sign_up()
    a_order, b_order = await shop.place(alice, ORDER), await shop.place(bob, ORDER)
    key = "shared-key"
    assert (await shop.pay(alice, a_order["id"], "pm_sandbox_success", key))[0] == 200
    status, operation = await shop.pay(bob, b_order["id"], "pm_sandbox_success", key)
    assert status == 200 and operation["result"]["order_id"] == b_order["id"]


async def test_missing_idempotency_key_is_a_400(shop: Any) -> None:
    auth, order = await customer_with_order(shop)
    response = await shop.client.post(f"/v1/orders/{order['id']}/payments",
                                      json={"payment_method": "pm_sandbox_success"},
                                      headers=auth)
    assert response.status == 400
    assert "Idempotency-Key" in (await response.json())["detail"]


async def test_a_slow_provider_gives_202_then_updates_until_the_end(shop_factory: Any) -> None:
    shop, auth, order = await shop_with_order(shop_factory, sandbox_stall_seconds=4)
    status, operation = await shop.pay(auth, order["id"], "pm_sandbox_stall")
    assert status == 202
    assert operation["status"] in ("pending", "processing")

    async def slow_or_done() -> dict[str, Any] | None:
        view = await shop.operation(auth, operation["id"])
        final = view["status"] in ("succeeded", "failed")
        return view if view["still_processing"] or final else None

    view = await eventually(slow_or_done, what="the operation to pass the slow threshold")
    if view["status"] == "processing":
        assert view["still_processing"] is True
        assert view["message"].startswith("Still processing")

    response = await shop.client.get(f"/v1/operations/{operation['id']}/events",
                                     headers=auth)
    assert response.headers["Content-Type"].startswith("text/event-stream")
    events = []
    async for line in response.content:
        if line.startswith(b"data: "):
            events.append(json.loads(line[6:]))
    assert events[-1]["status"] == "succeeded"
    slow_updates = [e for e in events if e["still_processing"]]
    assert len(slow_updates) >= 2, "a slow operation keeps sending updates"
    order_view = await shop.order(auth, order["id"])
    assert order_view["payments"][0]["status"] == "captured"


async def test_another_customers_operation_is_a_404(shop: Any) -> None:
    alice, bob = await shop.sign_up(), await shop.sign_up()
    order = await shop.place(alice, ORDER)
    _, operation = await shop.pay(alice, order["id"], "pm_sandbox_success")
    response = await shop.client.get(f"/v1/operations/{operation['id']}", headers=bob)
    assert response.status == 404


async def test_an_unsupported_route_is_a_clear_422(shop_factory: Any) -> None:
    shop, auth, order = await shop_with_order(
        shop_factory, {**ORDER, "currency": "USD"}, payment_contracts=[
            {"provider": "sandbox", "countries": ["KR"], "currencies": ["KRW"], "methods": ["*"]}])
    status, problem = await shop.pay(auth, order["id"], "pm_sandbox_success")
    assert status == 422
    assert problem["type"] == "/problems/unsupported-payment-route"
    assert "USD" in problem["detail"] and "KR" in problem["detail"]


async def test_a_provider_that_stays_down_fails_the_payment_with_advice(
    shop_factory: Any,
) -> None:
    shop, auth, order = await shop_with_order(shop_factory, outbox_max_attempts=2)
    status, operation = await shop.pay(auth, order["id"], "pm_sandbox_unavailable")
    assert status in (200, 202)
    view = await operation_ends(shop, auth, operation["id"], "failed", timeout=30,
                                what="the payment to give up")
    assert view["result"]["failure_code"] == "provider_unavailable"
    assert "did not go through" in view["message"] and "Try again" in view["message"]
    assert (await shop.order(auth, order["id"]))["status"] == "pending_payment"


async def test_openapi_describes_every_route(shop: Any) -> None:
    document = await (await shop.client.get("/v1/openapi.json")).json()
    assert document["openapi"].startswith("3.")
    for path in ("/v1/auth/register", "/v1/auth/login", "/v1/me", "/v1/orders",
                 "/v1/orders/{id}", "/v1/orders/{id}/payments", "/v1/operations/{id}",
                 "/v1/operations/{id}/events", "/v1/webhooks/{provider}", "/healthz",
                 "/readyz", "/v1/admin/evidence", "/v1/admin/evidence/verify"):
        assert path in document["paths"], path
    schemas = document["components"]["schemas"]
    assert {"OrderIn", "OperationOut", "Problem"} <= set(schemas)
    payment = document["paths"]["/v1/orders/{id}/payments"]["post"]
    assert any(p["name"] == "Idempotency-Key" and p["required"] for p in payment["parameters"])


async def test_health_and_readiness(shop: Any) -> None:
    assert (await shop.client.get("/healthz")).status == 200
    response = await shop.client.get("/readyz")
    body = await response.json()
    assert response.status == 200, body
    assert body["checks"] == {"database": "ok", "broker": "ok", "providers": "ok"}


async def test_the_same_email_registered_at_once_gives_one_account_and_409s(shop: Any) -> None:
    body = {"email": "twice@example.com", "password": "long enough password"}
    responses = await asyncio.gather(*[shop.client.post("/v1/auth/register", json=body)
                                       for _ in range(6)])
    # five sign-ups per address an hour: the sixth is throttled before it is tried
    assert sorted(r.status for r in responses) == [201] + [409] * 4 + [429]


async def test_nul_characters_and_odd_keys_are_4xx_not_500(shop: Any) -> None:
    auth = await shop.sign_up()
    response = await shop.client.post("/v1/auth/register", json={
        "email": "a\u0000@b.co", "password": "long enough password"})
    assert response.status == 400
    response = await shop.client.post("/v1/orders", json={**ORDER, "note": "a\u0000b"},
                                      headers=auth)
    assert response.status == 400
    for path in ("/v1/orders/%00", "/v1/orders?cursor=%00", "/v1/operations/%00"):
        assert (await shop.client.get(path, headers=auth)).status == 400, path
    order = await shop.place(auth, ORDER)
    response = await shop.client.post(
        f"/v1/orders/{order['id']}/payments", json={"payment_method": "pm_sandbox_success"},
        headers={**auth, "Idempotency-Key": "caf\u00e9"})
    assert response.status == 400
    assert "ASCII" in (await response.json())["detail"]


async def test_a_shutdown_ends_open_event_streams_at_once(shop_factory: Any) -> None:
    """Streams do not hold a stopping server until their operation's next update: each gets
    a `closing` event (reconnect later) as soon as shutdown begins."""
    shop, auth, order = await shop_with_order(shop_factory, sandbox_stall_seconds=60,
                                              operation_update_every_seconds=60)
    status, operation = await shop.pay(auth, order["id"], "pm_sandbox_stall")
    assert status == 202
    response = await shop.client.get(f"/v1/operations/{operation['id']}/events",
                                     headers=auth)
    first = await response.content.readline()
    assert first.startswith(b"event: ")
    shutdown = asyncio.create_task(shop.client.server.runner.shutdown())
    rest = await asyncio.wait_for(response.content.read(), timeout=30)
    await shutdown
    assert b"event: closing" in rest
    assert b'"status": "succeeded"' not in rest  # ended by the shutdown, not by the payment
