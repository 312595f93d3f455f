"""The whole way through HTTP: a customer orders with CJ Logistics and pays, the seller's
system registers the parcel's tracking number through the seller API, and the parcel is
followed to delivered by Delivery Tracker's webhook: the stand-in written from its published
schema registers the callback, calls our address back as each event arrives, and answers
the looks the callbacks set off."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from adapters.persistence.tables import ParcelWatch
from tests.e2e.conftest import Shop
from tests.helpers import ORDER, eventually
from tests.integration.delivery_tracker_standin import (
    API_KEY,
    Parcel,
    StandIn,
    application,
    event,
)

pytestmark = pytest.mark.timeout(90)
CJ, NUMBER = "kr.cjlogistics", "601234567890"
TOKEN = "dt-e2e-callback-token-4Qm8Zr2Xw7Lp9Vb3Nc6Kh1"
CLIENT_ID, CLIENT_SECRET = API_KEY.removeprefix("TRACKQL-API-KEY ").split(":")


async def test_a_seller_entered_number_reaches_delivered_by_webhook(
        shop_factory: Callable[..., Any], aiohttp_server: Any,
        unused_tcp_port_factory: Callable[[], int]) -> None:
    stand_in = StandIn(parcels={f"{CJ}/{NUMBER}": Parcel(
        [event("AT_PICKUP", "2026-12-01T09:00:00+09:00"),
         event("IN_TRANSIT", "2026-12-01T18:00:00+09:00"),
         event("OUT_FOR_DELIVERY", "2026-12-02T08:30:00+09:00"),
         event("DELIVERED", "2026-12-02T11:45:00+09:00")], reveal_one_per_look=True)})
    tracker = await aiohttp_server(application(stand_in))
    port = unused_tcp_port_factory()
    shop: Shop = await shop_factory(
        port=port, delivery_tracker_url=str(tracker.make_url("/graphql")),
        delivery_tracker_client_id=CLIENT_ID, delivery_tracker_client_secret=CLIENT_SECRET,
        delivery_tracker_webhook_base_url=f"http://127.0.0.1:{port}",
        delivery_tracker_webhook_token=TOKEN)

    auth = await shop.sign_up()
    order = await shop.place(auth, {**ORDER, "carrier": CJ})
    status, _ = await shop.pay(auth, order["id"], "pm_sandbox_success")
    assert status in (200, 202)

    async def paid() -> bool:
        return (await shop.order(auth, order["id"]))["status"] == "paid"

    await eventually(paid, what="the order to be paid")
    seller = {"Authorization": f"Bearer {shop.container.seller_keys().issue('seller-a')}"}
    registered = await shop.client.post(
        f"/v1/seller/orders/{order['id']}/parcels", headers=seller,
        json={"carrier": CJ, "tracking_number": "6012-3456-7890"})
    assert registered.status == 201, await registered.text()
    shipment_id = (await registered.json())["id"]
    parcel = stand_in.parcels[f"{CJ}/{NUMBER}"]

    async def looked_once() -> bool:
        return parcel.looks == 1

    # Handed over: the webhook is registered with our address and the parcel looked at once.
    await eventually(looked_once, what="the first look")
    hook = stand_in.webhooks[f"{CJ}/{NUMBER}"]
    assert hook.callback_url.endswith(f"/v1/webhooks/delivery-tracker/{TOKEN}")

    async def shipment_status() -> str:
        async with shop.container.uow()(read_only=True) as uow:
            shipment = await uow.shipments.get(shipment_id)
        assert shipment is not None
        return shipment.status.value

    for look, expected in ((2, "in_transit"), (3, "out_for_delivery"), (4, "delivered")):
        assert await stand_in.call_back(CJ, NUMBER) == 200  # a new event, called back

        async def moved(look: int = look, expected: str = expected) -> bool:
            return parcel.looks == look and await shipment_status() == expected

        await eventually(moved, what=f"the shipment {expected} after look {look}")

    async def finished() -> bool:
        row = await ParcelWatch.select(ParcelWatch.status).where(
            ParcelWatch.shipment_id == shipment_id).first()
        return row is not None and row["status"] == "finished"

    await eventually(finished, what="following to stop")
    view = await shop.order(auth, order["id"])
    assert view["status"] == "partially_delivered"  # seller-b's cup has not left yet
    assert stand_in.invalid == []
