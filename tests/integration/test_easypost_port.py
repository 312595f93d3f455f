"""The EasyPost carrier through our Carrier port: a local server answers with EasyPost's recorded
answers (test_shipment_buy), so what the port builds from an order (addresses, parcel, customs
abroad) and what reaches the evidence can be checked."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
import yaml
from aiohttp import web
from aiohttp.test_utils import TestServer

from adapters.shipping.easypost import EasyPostCarrier
from application.ports import ShipmentRequest
from domain.errors import DomainError
from domain.orders import ShippingAddress
from tests.helpers import RecordingLedger
from tests.integration.easypost_replay import CASSETTES, LOCAL_API_KEY, ORIGIN
from tests.integration.replay_http import replaying_http

ServerFactory = Callable[[web.Application], Awaitable[TestServer]]
RECORDED = yaml.safe_load((CASSETTES / "test_shipment_buy.yaml").read_text())["interactions"]
LOWEST_RATE = json.loads(RECORDED[1]["request"]["body"])["rate"]["id"]


ITEMS = [{"sku": "TEE-RED-M", "quantity": 2, "value": 46.5}]


def request(country: str, items: list[dict[str, Any]]) -> ShipmentRequest:
    address = ShippingAddress("Kim Minji", "12 Teheran-ro", "Apt 1201", "Seoul", "06234", country)
    return ShipmentRequest("shp_local_1", "ord_local_1", "shp_local_1", address, items)


async def book(aiohttp_server: ServerFactory, country: str,
               origin: dict[str, str] | None = ORIGIN, items: list[dict[str, Any]] = ITEMS,
               ) -> tuple[str, list[Any], RecordingLedger]:
    received: list[Any] = []

    async def answer(incoming: web.Request) -> web.Response:
        received.append((incoming.method, incoming.path, await incoming.json(),
                         incoming.headers.get("Authorization")))
        recorded = RECORDED[len(received) - 1]["response"]
        return web.Response(status=recorded["status"]["code"],
                            text=recorded["body"]["string"], content_type="application/json")

    app = web.Application()
    app.router.add_post("/v2/shipments", answer)
    app.router.add_post("/v2/shipments/{id}/buy", answer)
    server = await aiohttp_server(app)
    ledger = RecordingLedger()
    async with replaying_http(ledger) as http:
        carrier = EasyPostCarrier(http, ledger, LOCAL_API_KEY, ["sécret"],
                                  base_url=str(server.make_url("")), origin=origin)
        tracking = await carrier.create_shipment(request(country, items))
    return tracking, received, ledger


async def test_an_order_abroad_is_booked_with_customs_at_the_lowest_rate(
        aiohttp_server: ServerFactory) -> None:
    tracking, received, ledger = await book(aiohttp_server, "KR")
    assert tracking == "9400100208303109505657"
    (_, _, created, authorization), (_, buy_path, bought, _) = received
    shipment = created["shipment"]
    assert shipment["to_address"] == {"name": "Kim Minji", "street1": "12 Teheran-ro",
                                      "street2": "Apt 1201", "city": "Seoul", "zip": "06234",
                                      "country": "KR"}  # no e-mail, no phone
    assert shipment["from_address"] == ORIGIN and shipment["reference"] == "shp_local_1"
    assert shipment["customs_info"]["customs_items"] == [{
        "description": "TEE-RED-M", "quantity": 2, "weight": 16.0, "value": 46.5,
        "origin_country": "US"}]
    assert buy_path.endswith("/buy") and bought == {"rate": {"id": LOWEST_RATE}}
    assert authorization == "Basic RVpUS19sb2NhbF9zdGFuZF9pbl81ZTFmOg=="  # key, empty password
    [parcel] = [d for d in ledger.drafts if d.kind == "provider.parcel"]
    assert parcel.payload["tracking_number"] == tracking and parcel.payload["customs"] is True
    assert parcel.payload["rate"] == {"carrier": "USPS", "service": "GroundAdvantage",
                                      "amount": "6.07", "currency": "USD"}


async def test_a_domestic_order_needs_no_customs(aiohttp_server: ServerFactory) -> None:
    _, received, _ = await book(aiohttp_server, "US", items=[{"sku": "TEE-RED-M",
                                                              "quantity": 2}])
    assert "customs_info" not in received[0][2]["shipment"]


async def test_an_item_abroad_without_a_declared_value_is_refused_not_guessed(
        aiohttp_server: ServerFactory) -> None:
    with pytest.raises(DomainError, match=r"declared value .* missing for TEE-BLUE-S"):
        await book(aiohttp_server, "KR", items=[*ITEMS, {"sku": "TEE-BLUE-S", "quantity": 1}])


async def test_the_evidence_of_a_booking_holds_no_address_or_phone(
        aiohttp_server: ServerFactory) -> None:
    _, _, ledger = await book(aiohttp_server, "KR")
    stored = json.dumps([draft.redacted()[:2] for draft in ledger.drafts])
    for personal in ("Kim Minji", "Teheran", "06234", "Townsend", "94107", "Jack Sparrow",
                     "Elizabeth Swan", "5555555555", "test@example.com", LOCAL_API_KEY):
        assert personal not in stored
    assert [d.payload["request"]["body"] for d in ledger.drafts if d.kind == "http.exchange"] \
        == [{"shipment": "[redacted]"}, {"rate": {"id": LOWEST_RATE}}]


async def test_without_an_origin_address_nothing_is_sent(aiohttp_server: ServerFactory) -> None:
    with pytest.raises(DomainError, match="origin address"):
        await book(aiohttp_server, "KR", origin=None)
