"""Sellers who ship with a Korean domestic carrier register their parcels, in as many parcels
as they send: each is a shipment of its own, followed through Delivery Tracker."""

from __future__ import annotations

import pytest

from domain.commands import CreateShipment, FollowParcel, SendNotification
from domain.errors import AlreadyExists, DomainError, InvalidTransition, NotFound
from domain.orders import Order, OrderStatus
from domain.shipments import ShipmentStatus
from domain.shipping_options import NoShippingOption
from tests.unit.application.harness import Mall

CJ = "kr.cjlogistics"


async def _paid(mall: Mall, carrier: str = CJ) -> Order:
    customer = await mall.customer()
    order = await mall.place(customer, carrier=carrier)
    await mall.pay(customer, order)
    await mall.run_outbox()
    return order


async def test_a_domestic_order_asks_each_seller_to_hand_its_parcels_over(mall: Mall) -> None:
    order = await _paid(mall)
    placed = await mall.order(order.id)
    # The customer pays the contract's delivery fee on top of the lines.
    assert (placed.carrier, placed.service, placed.shipping_fee) == (CJ, "standard", 3000)
    assert placed.total.amount == 2 * 15000 + 9000 + 3000
    assert await mall.shipments_of(order.id) == []  # nothing is booked for the sellers
    asked = [c for c in mall.db.commands(SendNotification, status="done")
             if c.template == "ship_order_seller"]
    assert sorted((c.seller_id, c.params["lines"]) for c in asked) == [
        ("seller-a", {"TEA-01": 2}), ("seller-b", {"CUP-02": 1})]
    assert mall.db.commands(CreateShipment, status=None) == []


async def test_a_seller_splits_its_lines_over_parcels_and_each_is_followed(mall: Mall) -> None:
    order = await _paid(mall)
    parcels = mall.container.seller_parcels()
    created, first = await parcels.register("seller-a", order.id, CJ, "6012-3456-7890",
                                            {"TEA-01": 1})
    assert created and first["tracking_number"] == "601234567890"
    assert first["status"] == "created" and first["lines"] == [{"sku": "TEA-01", "quantity": 1}]
    owed = await parcels.owed("seller-a", order.id)
    assert owed["to_ship"] == [{"sku": "TEA-01", "quantity": 1}]  # the backorder
    _, second = await parcels.register("seller-a", order.id, "kr.hanjin", "5012 3456 7890")
    assert second["lines"] == [{"sku": "TEA-01", "quantity": 1}]
    assert (await parcels.owed("seller-a", order.id))["to_ship"] == []
    shipments = await mall.shipments_of(order.id)
    assert sorted((s.carrier, s.status) for s in shipments) == [
        (CJ, ShipmentStatus.CREATED), ("kr.hanjin", ShipmentStatus.CREATED)]
    followed = [c.shipment_id for c in mall.db.commands(FollowParcel)]
    assert sorted(followed) == sorted(s.id for s in shipments)
    assert len(mall.db.evidence("shipment.registered")) == 2
    # Handed over is not yet on its way: the order waits for the carriers' first scan.
    assert (await mall.order(order.id)).status == OrderStatus.PAID


async def test_registering_the_same_waybill_again_answers_the_same_parcel(mall: Mall) -> None:
    order, other = await _paid(mall), await _paid(mall)
    parcels = mall.container.seller_parcels()
    _, first = await parcels.register("seller-b", order.id, CJ, "601234567890")
    created, again = await parcels.register("seller-b", order.id, CJ, "6012 3456 7890")
    assert (created, again["id"]) == (False, first["id"])
    assert len(await mall.shipments_of(order.id)) == 1
    with pytest.raises(AlreadyExists, match="already registered for another parcel"):
        await parcels.register("seller-b", other.id, CJ, "601234567890")


@pytest.mark.parametrize(("seller", "carrier", "number", "lines", "error", "message"), [
    pytest.param("seller-c", CJ, "601234567890", None, NotFound, "nothing from seller",
                 id="another_sellers_order_is_not_found"),
    pytest.param("seller-a", "kr.dhl", "601234567890", None, DomainError, "unknown carrier",
                 id="unknown_carrier"),
    pytest.param("seller-a", CJ, "60123", None, DomainError, "not a CJ Logistics tracking",
                 id="malformed_tracking_number"),
    pytest.param("seller-a", CJ, "601234567890", {"TEA-01": 3}, DomainError,
                 "2 left to ship", id="more_than_ordered"),
    pytest.param("seller-a", CJ, "601234567890", {"CUP-02": 1}, DomainError,
                 "0 left to ship", id="another_sellers_line"),
])
async def test_bad_parcels_are_refused_and_nothing_is_stored(
        mall: Mall, seller: str, carrier: str, number: str, lines: dict[str, int] | None,
        error: type[Exception], message: str) -> None:
    order = await _paid(mall)
    with pytest.raises(error, match=message):
        await mall.container.seller_parcels().register(seller, order.id, carrier, number, lines)
    assert await mall.shipments_of(order.id) == []
    assert mall.db.commands(FollowParcel, status=None) == []


async def test_nothing_ships_before_the_order_is_paid(mall: Mall) -> None:
    order = await mall.place(await mall.customer(), carrier=CJ)
    with pytest.raises(InvalidTransition, match="pending_payment"):
        await mall.container.seller_parcels().register("seller-a", order.id, CJ,
                                                       "601234567890")


async def test_a_domestic_carrier_only_ships_within_korea(mall: Mall) -> None:
    customer = await mall.customer()
    abroad = {"recipient": "Ada", "line1": "1 Main St", "city": "Boston",
              "postal_code": "02110", "country": "US"}
    with pytest.raises(NoShippingOption, match=r"kr\.cjlogistics does not deliver to US") as no:
        await mall.place(customer, carrier=CJ, shipping_address=abroad)
    assert [o["carrier"] for o in no.value.options] == ["sandbox-express"]


async def test_everything_sent_leaves_nothing_to_register(mall: Mall) -> None:
    order = await _paid(mall)
    parcels = mall.container.seller_parcels()
    await parcels.register("seller-b", order.id, CJ, "601234567890")
    with pytest.raises(InvalidTransition, match="sent everything"):
        await parcels.register("seller-b", order.id, CJ, "601234567891")
