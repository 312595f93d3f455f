"""Through the HTTP API: the storefront asks where parcels can go, a customer orders with a
Korean domestic carrier, and the seller's system registers its parcel with its API key."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tests.e2e.conftest import Shop
from tests.helpers import ORDER, eventually

pytestmark = pytest.mark.timeout(60)
CJ = "kr.cjlogistics"


async def test_the_options_for_a_destination_with_fee_and_delivery_time(shop: Shop) -> None:
    response = await shop.client.get("/v1/shipping/options?country=kr&currency=KRW")
    assert response.status == 200, await response.text()
    body = await response.json()
    assert (body["country"], body["currency"]) == ("KR", "KRW")
    first, *domestic = body["options"]
    assert (first["carrier"], first["fee"], first["fee_display"]) == ("sandbox-express", 0,
                                                                     "free")
    assert {o["carrier"] for o in domestic} == {CJ, "kr.epost", "kr.hanjin", "kr.lotte",
                                                "kr.logen"}
    assert all(o["fee"] == 3000 and o["seller_ships"] and o["estimated_days"] == {
        "min": 1, "max": 2} for o in domestic)
    abroad = await (await shop.client.get("/v1/shipping/options?country=US&currency=USD")
                    ).json()
    assert [o["carrier"] for o in abroad["options"]] == ["sandbox-express"]
    for query, status in (("", 400), ("?country=KR", 400), ("?country=K1&currency=KRW", 422),
                          ("?country=KR&currency=K1", 400)):
        refused = await shop.client.get(f"/v1/shipping/options{query}")
        assert refused.status == status, query
        assert (await refused.json())["detail"]


async def test_an_order_no_contract_serves_is_refused_with_what_is_possible(
        shop: Shop) -> None:
    auth = await shop.sign_up()
    order = copy.deepcopy(ORDER)
    order["carrier"] = CJ
    order["shipping_address"].update(country="US", city="Boston", postal_code="02110")
    response = await shop.client.post("/v1/orders", json=order, headers=auth)
    assert response.status == 422
    problem = await response.json()
    assert problem["type"] == "/problems/no-shipping-option"
    assert "kr.cjlogistics does not deliver to US" in problem["detail"]
    assert [o["carrier"] for o in problem["options"]] == ["sandbox-express"]
    assert problem["countries_served"] == ["*", "KR"]


async def _paid_domestic_order(shop: Shop) -> dict[str, Any]:
    auth = await shop.sign_up()
    order = await shop.place(auth, {**ORDER, "carrier": CJ})
    assert (order["service"], order["shipping_fee"]) == ("standard", 3000)
    assert order["total"] == 2 * 15000 + 9000 + 3000
    status, _ = await shop.pay(auth, order["id"], "pm_sandbox_success")
    assert status in (200, 202)

    async def paid() -> bool:
        return (await shop.order(auth, order["id"]))["status"] == "paid"

    await eventually(paid, what="the order to be paid")
    return order


async def test_a_seller_registers_a_parcel_with_its_api_key(shop: Shop) -> None:
    order = await _paid_domestic_order(shop)
    key = shop.container.seller_keys().issue("seller-a")
    seller = {"Authorization": f"Bearer {key}"}
    url = f"/v1/seller/orders/{order['id']}"
    owed = await (await shop.client.get(url, headers=seller)).json()
    assert owed["to_ship"] == [{"sku": "TEA-01", "quantity": 2}]
    assert owed["ship_to"]["city"] == "Seoul"

    parcel = {"carrier": CJ, "tracking_number": "6012-3456-7890",
              "lines": [{"sku": "TEA-01", "quantity": 1}]}
    created = await shop.client.post(f"{url}/parcels", json=parcel, headers=seller)
    assert created.status == 201, await created.text()
    body = await created.json()
    assert (body["tracking_number"], body["status"]) == ("601234567890", "created")
    again = await shop.client.post(f"{url}/parcels", json=parcel, headers=seller)
    assert again.status == 200 and (await again.json())["id"] == body["id"]

    owed = await (await shop.client.get(url, headers=seller)).json()
    assert owed["to_ship"] == [{"sku": "TEA-01", "quantity": 1}]
    assert [p["id"] for p in owed["parcels"]] == [body["id"]]


@pytest.mark.parametrize(("headers", "parcel", "status", "says"), [
    pytest.param({}, {"carrier": CJ, "tracking_number": "601234567890"}, 401,
                 "Authorization: Bearer", id="no_key"),
    pytest.param({"Authorization": "Bearer msk.forged.seller-a"},
                 {"carrier": CJ, "tracking_number": "601234567890"}, 401,
                 "not a seller API key", id="forged_key"),
    pytest.param(None, {"carrier": "kr.dhl", "tracking_number": "601234567890"}, 422,
                 "unknown carrier", id="unknown_carrier"),
    pytest.param(None, {"carrier": CJ, "tracking_number": "12-34"}, 422,
                 "not a CJ Logistics tracking number", id="malformed_number"),
    pytest.param(None, {"carrier": CJ, "tracking_number": "601234567890",
                        "lines": [{"sku": "TEA-01", "quantity": 9}]}, 422,
                 "2 left to ship", id="too_many"),
])
async def test_bad_parcel_registrations_get_a_clear_4xx(
        shop: Shop, headers: dict[str, str] | None, parcel: dict[str, Any], status: int,
        says: str) -> None:
    order = await _paid_domestic_order(shop)
    if headers is None:
        headers = {"Authorization": f"Bearer {shop.container.seller_keys().issue('seller-a')}"}
    response = await shop.client.post(f"/v1/seller/orders/{order['id']}/parcels",
                                      json=parcel, headers=headers)
    assert response.status == status
    assert says in (await response.json())["detail"]


async def test_another_sellers_order_is_not_found(shop: Shop) -> None:
    order = await _paid_domestic_order(shop)
    key = shop.container.seller_keys().issue("seller-z")
    response = await shop.client.get(f"/v1/seller/orders/{order['id']}",
                                     headers={"Authorization": f"Bearer {key}"})
    assert response.status == 404
