"""Placing and reading orders, on fakes."""

from __future__ import annotations

import pytest

from application.ordering import PlaceOrder
from domain.commands import TrackEvent
from domain.errors import DomainError, NotFound
from domain.orders import OrderStatus
from domain.shipping_options import NoShippingOption
from tests.helpers import ORDER
from tests.unit.application.harness import Mall


async def test_placing_an_order_stores_it_pending_payment(mall: Mall) -> None:
    customer = await mall.customer()
    order = await mall.place(customer)
    stored = await mall.order(order.id)
    assert stored.status == OrderStatus.PENDING_PAYMENT
    assert stored.total.amount == 2 * 15000 + 9000
    assert stored.sellers == ["seller-a", "seller-b"]
    assert stored.carrier == "sandbox-express"


async def test_placing_an_order_tracks_it_for_analytics_in_the_same_transaction(
        mall: Mall) -> None:
    customer = await mall.customer(country="US")  # analytics needs no opt-in there
    order = await mall.place(customer)
    tracked = [c for c in mall.db.commands(TrackEvent) if c.name == "Order Placed"]
    assert tracked == [TrackEvent(customer.id, "Order Placed", {
        "order_ref": order.id, "total_minor": 39000, "currency": "KRW"})]
    await mall.run_outbox()
    placed = [e for e in mall.analytics.events if e.name == "Order Placed"]
    assert len(placed) == 1
    # Pseudonymous: neither the customer nor the order is named to analytics.
    assert customer.id not in placed[0].anonymous_id
    assert placed[0].properties["order_ref"] != order.id


async def test_a_carrier_that_is_not_offered_is_refused_before_anything_is_stored(
        mall: Mall) -> None:
    customer = await mall.customer()
    with pytest.raises(NoShippingOption, match="pigeon-post does not deliver to KR") as refused:
        await mall.place(customer, carrier="pigeon-post")
    assert mall.db.rows("orders") == []
    # The refusal lists what the customer may choose instead.
    assert {o["carrier"] for o in refused.value.options} >= {"sandbox-express",
                                                            "kr.cjlogistics"}


async def test_an_order_totalling_zero_is_refused(mall: Mall) -> None:
    customer = await mall.customer()
    free = [{**ORDER["lines"][0], "unit_price": 0}]
    with pytest.raises(DomainError, match="more than zero"):
        await mall.place(customer, lines=free)
    assert mall.db.rows("orders") == []


async def test_an_order_without_lines_is_refused(mall: Mall) -> None:
    customer = await mall.customer()
    with pytest.raises(DomainError, match="at least one line"):
        await mall.container.ordering().place(PlaceOrder(
            customer_id=customer.id, currency="KRW", lines=[],
            shipping_address={"line2": "", **ORDER["shipping_address"]},
            carrier="sandbox-express"))
    assert mall.db.rows("orders") == []


async def test_a_customer_reads_their_own_order_with_its_payments_and_shipments(
        mall: Mall) -> None:
    customer, order = await mall.paid_order()
    view = await mall.container.ordering().get(customer.id, order.id)
    assert view["status"] == "paid"
    assert [p["status"] for p in view["payments"]] == ["captured"]
    assert view["money"]["captured"] == 39000
    assert {s["seller_id"] for s in view["shipments"]} == {"seller-a", "seller-b"}
    assert all(s["tracking_number"] for s in view["shipments"])


async def test_another_customers_order_is_not_found(mall: Mall) -> None:
    owner, stranger = await mall.customer(), await mall.customer()
    order = await mall.place(owner)
    with pytest.raises(NotFound):
        await mall.container.ordering().get(stranger.id, order.id)


async def test_orders_are_listed_newest_first_and_paged_with_a_cursor(mall: Mall) -> None:
    customer = await mall.customer()
    placed = []
    for _ in range(5):
        placed.append(await mall.place(customer))
        mall.clock.advance(seconds=1)
    ordering = mall.container.ordering()
    first = await ordering.list(customer.id, limit=2)
    assert [o["id"] for o in first["orders"]] == [placed[4].id, placed[3].id]
    assert first["next_cursor"] and first["next_cursor"].endswith("Z")
    second = await ordering.list(customer.id, limit=2, cursor=first["next_cursor"])
    assert [o["id"] for o in second["orders"]] == [placed[2].id, placed[1].id]
    last = await ordering.list(customer.id, limit=2, cursor=second["next_cursor"])
    assert [o["id"] for o in last["orders"]] == [placed[0].id]
    assert last["next_cursor"] is None


async def test_a_list_shows_only_the_customers_own_orders(mall: Mall) -> None:
    alice, bob = await mall.customer(), await mall.customer()
    await mall.place(alice)
    mine = await mall.place(bob)
    listed = await mall.container.ordering().list(bob.id)
    assert [o["id"] for o in listed["orders"]] == [mine.id]


@pytest.mark.parametrize("limit", [0, 101])
async def test_a_page_size_out_of_bounds_is_refused(mall: Mall, limit: int) -> None:
    with pytest.raises(DomainError, match="limit"):
        await mall.container.ordering().list("cus_x", limit=limit)


async def test_card_numbers_typed_into_the_note_are_never_stored(mall: Mall) -> None:
    customer = await mall.customer()
    order = await mall.place(customer, note="my card 4242 4242 4242 4242 thanks")
    stored = await mall.order(order.id)
    assert "4242 4242 4242 4242" not in stored.note
