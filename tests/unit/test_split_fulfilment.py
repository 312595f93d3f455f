"""Split fulfilment: one order, three parcels over two carriers, tracking news in any order.

The order's status is derived from its parcels and each parcel's from the set of events it
heard, so shuffling and repeating the carriers' callbacks must end in the very same state.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from domain.events import DeliveryExceptionRaised, OrderDelivered
from domain.money import Money
from domain.orders import Order, OrderLine, OrderStatus, ShippingAddress
from domain.shipments import DeliveryProblem, Shipment, ShipmentStatus, TrackingUpdate

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
S = ShipmentStatus

# Journeys carriers really report, each step an hour after the one before.
JOURNEYS: dict[str, list[tuple[ShipmentStatus, str]]] = {
    "straight": [(S.PICKED_UP, ""), (S.IN_TRANSIT, ""), (S.OUT_FOR_DELIVERY, ""),
                 (S.DELIVERED, "")],
    "second_attempt": [(S.PICKED_UP, ""), (S.OUT_FOR_DELIVERY, ""),
                       (S.EXCEPTION, "attempted: nobody home"), (S.OUT_FOR_DELIVERY, ""),
                       (S.DELIVERED, "")],
    "returned": [(S.PICKED_UP, ""), (S.IN_TRANSIT, ""), (S.EXCEPTION, "address not found"),
                 (S.RETURNED, "back to the seller")],
    "still_moving": [(S.PICKED_UP, ""), (S.IN_TRANSIT, "")],
    "not_left": [],
}
# (shipment id, seller, carrier, SKU quantities): seller-a splits its lines over two carriers.
PARCELS = [("shp-a1", "seller-a", "sandbox-express", {"MUG": 2}),
           ("shp-a2", "seller-a", "kr.cjlogistics", {"TEA": 1}),
           ("shp-b1", "seller-b", "kr.cjlogistics", {})]


def order() -> Order:
    placed = Order.place(
        order_id="o-1", customer_id="c-1", currency="KRW",
        lines=[OrderLine("MUG", "Mug", "seller-a", 2, Money(9000, "KRW")),
               OrderLine("TEA", "Tea", "seller-a", 1, Money(4000, "KRW")),
               OrderLine("PEN", "Pen", "seller-b", 1, Money(1500, "KRW"))],
        shipping_address=ShippingAddress("Kim", "1 Road", "", "Seoul", "06234", "KR"),
        carrier="kr.cjlogistics", note="", now=T0)
    placed.start_payment()
    placed.mark_paid()
    return placed


def parcels() -> list[Shipment]:
    made = []
    for shipment_id, seller, carrier, lines in PARCELS:
        shipment = Shipment(shipment_id, "o-1", seller, carrier, lines=lines)
        shipment.accepted(f"TRK-{shipment_id}", "c-1")
        made.append(shipment)
    return made


def events(journeys: list[str]) -> list[tuple[str, TrackingUpdate]]:
    """Every parcel's events, in the carriers' time order."""
    news = []
    for (shipment_id, *_), journey in zip(PARCELS, journeys, strict=True):
        for step, (status, detail) in enumerate(JOURNEYS[journey], start=1):
            news.append((shipment_id, TrackingUpdate(
                f"TRK-{shipment_id}", status, T0 + timedelta(hours=step), detail)))
    return sorted(news, key=lambda item: item[1].occurred_at)


def follow(news: list[tuple[str, TrackingUpdate]]) -> tuple[Order, list[Shipment]]:
    """Apply each callback as the fulfilment use case does: the parcel, then the order."""
    placed, shipments = order(), parcels()
    by_id = {s.id: s for s in shipments}
    for shipment_id, update in news:
        if by_id[shipment_id].apply(update, "c-1"):
            placed.shipments_progressed(shipments)
    return placed, shipments


def state(placed: Order, shipments: list[Shipment]) -> object:
    return (placed.status, [(s.id, s.status, s.history, s.last_event_at, s.problem)
                            for s in shipments])


@settings(max_examples=300, deadline=None)
@given(journeys=st.lists(st.sampled_from(sorted(JOURNEYS)), min_size=3, max_size=3),
       data=st.data())
def test_shuffled_and_repeated_news_ends_as_news_in_order(journeys: list[str],
                                                          data: st.DataObject) -> None:
    in_order = events(journeys)
    repeated = data.draw(st.lists(st.sampled_from(in_order), max_size=6)) if in_order else []
    shuffled = data.draw(st.permutations(in_order + repeated))
    expected_order, expected_parcels = follow(in_order)
    got_order, got_parcels = follow(shuffled)
    assert state(got_order, got_parcels) == state(expected_order, expected_parcels)
    # Delivered is said once, however the news came.
    assert sum(isinstance(e, OrderDelivered) for e in got_order.events) == (
        1 if got_order.status == OrderStatus.DELIVERED else 0)


def test_three_parcels_delivered_deliver_the_order_and_a_late_in_transit_undoes_nothing() -> None:
    news = events(["straight", "second_attempt", "straight"])
    placed, shipments = follow(news)
    assert placed.status == OrderStatus.DELIVERED
    late = TrackingUpdate("TRK-shp-a1", S.IN_TRANSIT, T0 + timedelta(days=3))
    assert not shipments[0].apply(late)
    placed.shipments_progressed(shipments)
    assert placed.status == OrderStatus.DELIVERED
    assert shipments[1].history == ["picked_up", "out_for_delivery", "exception",
                                    "out_for_delivery", "delivered"]


def test_the_order_walks_through_every_stage_of_a_split_delivery() -> None:
    placed, shipments = order(), parcels()
    seen = []
    for shipment_id, update in events(["straight", "still_moving", "straight"]):
        shipment = next(s for s in shipments if s.id == shipment_id)
        if shipment.apply(update):
            placed.shipments_progressed(shipments)
            seen.append(placed.status)
    assert list(dict.fromkeys(seen)) == [OrderStatus.PARTIALLY_SHIPPED, OrderStatus.SHIPPED,
                                         OrderStatus.PARTIALLY_DELIVERED]


def test_a_returned_parcel_names_its_problem_and_keeps_the_order_short() -> None:
    placed, shipments = follow(events(["straight", "returned", "straight"]))
    returned = shipments[1]
    assert (returned.status, returned.problem) == (S.RETURNED, DeliveryProblem.RETURNED_TO_SENDER)
    raised = [e for e in returned.events if isinstance(e, DeliveryExceptionRaised)]
    assert [e.problem for e in raised] == ["address_problem", "returned_to_sender"]
    assert placed.status == OrderStatus.PARTIALLY_DELIVERED
