"""Shipment.apply: tracking events arrive out of order; a shipment never moves back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from domain.shipments import Shipment, ShipmentStatus, TrackingUpdate

S = ShipmentStatus
T0 = datetime(2024, 5, 1, 9, 0, tzinfo=UTC)


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def event(status: ShipmentStatus, minutes: int, detail: str = "") -> TrackingUpdate:
    return TrackingUpdate("TRK123456", status, at(minutes), detail)


def shipment() -> Shipment:
    ship = Shipment(id="s-1", order_id="o-1", seller_id="seller-a", carrier="sandbox")
    ship.accepted("TRK123456")
    return ship


def test_accepted_sets_tracking_number_and_created() -> None:
    ship = Shipment(id="s-1", order_id="o-1", seller_id="seller-a", carrier="sandbox")
    assert ship.status == S.REQUESTED
    ship.accepted("TRK123456")
    assert ship.tracking_number == "TRK123456"
    assert ship.status == S.CREATED


def test_accepted_does_not_move_a_shipment_back() -> None:
    ship = shipment()
    ship.apply(event(S.IN_TRANSIT, 10))
    ship.accepted("TRK123456")
    assert ship.status == S.IN_TRANSIT


def test_events_in_order_move_forward() -> None:
    ship = shipment()
    for minutes, status in enumerate(
        [S.PICKED_UP, S.IN_TRANSIT, S.OUT_FOR_DELIVERY, S.DELIVERED], start=1
    ):
        assert ship.apply(event(status, minutes))
    assert ship.status == S.DELIVERED
    assert ship.last_event_at == at(4)
    assert ship.history == ["picked_up", "in_transit", "out_for_delivery", "delivered"]


def test_same_status_again_returns_false() -> None:
    ship = shipment()
    assert ship.apply(event(S.IN_TRANSIT, 5))
    assert not ship.apply(event(S.IN_TRANSIT, 6))
    assert ship.history == ["in_transit"]


# (where it is, since when) and an event that must not move it from there.
IGNORED = [
    *(pytest.param(S.OUT_FOR_DELIVERY, 30, older, 10, id=f"older_{older.value}_never_moves_back")
      for older in (S.CREATED, S.PICKED_UP, S.IN_TRANSIT)),
    pytest.param(S.OUT_FOR_DELIVERY, 30, S.PICKED_UP, 40,
                 id="lower_ranked_event_with_a_newer_time"),
    # The carrier retried at minute 30, so the exception at 20 is history.
    pytest.param(S.IN_TRANSIT, 30, S.EXCEPTION, 20, id="older_exception_after_newer_in_transit"),
    *(pytest.param(S.DELIVERED, 30, later, 60, id=f"delivered_is_final_over_{later.value}")
      for later in (S.EXCEPTION, S.IN_TRANSIT, S.OUT_FOR_DELIVERY, S.RETURNED, S.PICKED_UP)),
]


@pytest.mark.parametrize(("current", "since", "late", "late_at"), IGNORED)
def test_an_event_that_would_move_it_back_is_ignored(current: ShipmentStatus, since: int,
                                                       late: ShipmentStatus,
                                                       late_at: int) -> None:
    ship = shipment()
    ship.apply(event(current, since))
    assert not ship.apply(event(late, late_at))
    assert ship.status == current
    assert ship.last_event_at == at(since)


def test_exception_then_newer_in_transit_moves_on() -> None:
    ship = shipment()
    ship.apply(event(S.IN_TRANSIT, 10))
    assert ship.apply(event(S.EXCEPTION, 20, "address not found"))
    assert ship.status == S.EXCEPTION
    assert ship.apply(event(S.IN_TRANSIT, 30))
    assert ship.status == S.IN_TRANSIT
    assert ship.last_event_at == at(30)
    assert ship.history == ["in_transit", "exception", "in_transit"]


def test_exception_then_older_in_transit_stays_exception() -> None:
    ship = shipment()
    ship.apply(event(S.EXCEPTION, 20))
    assert not ship.apply(event(S.IN_TRANSIT, 10))
    assert not ship.apply(event(S.IN_TRANSIT, 20))  # same instant is not newer
    assert ship.status == S.EXCEPTION


def test_delivered_arriving_before_older_events() -> None:
    ship = shipment()
    assert ship.apply(event(S.DELIVERED, 50))
    assert not ship.apply(event(S.PICKED_UP, 10))
    assert not ship.apply(event(S.OUT_FOR_DELIVERY, 40))
    assert ship.status == S.DELIVERED
    # The history is the carrier's journey in its own time order, whatever order we heard it.
    assert ship.history == ["picked_up", "out_for_delivery", "delivered"]


def test_a_shipment_raises_its_moves_and_a_delivery_exception() -> None:
    from domain.events import DeliveryExceptionRaised, ShipmentStatusChanged

    s = Shipment(id="s-1", order_id="o-1", seller_id="seller-a", carrier="sandbox")
    s.accepted("SBX000000000001", "cus_1")
    assert s.events == [ShipmentStatusChanged(s.order_id, "cus_1", s.id, "created", "sandbox",
                                              "SBX000000000001")]
    s.events.clear()
    assert s.apply(event(S.EXCEPTION, 5, "address not found"), "cus_1")
    assert s.events == [
        ShipmentStatusChanged(s.order_id, "cus_1", s.id, "exception", "sandbox",
                              "SBX000000000001"),
        DeliveryExceptionRaised(s.order_id, "cus_1", s.seller_id, s.id, "address not found",
                                "address_problem"),
    ]
    s.events.clear()
    assert not s.apply(event(S.IN_TRANSIT, 1), "cus_1")  # older than what we know: nothing
    assert s.events == []
