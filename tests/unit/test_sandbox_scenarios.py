"""The sandbox carrier's journeys: which one a parcel plays, and what each one reports, read
back through the carrier's own webhook translation into a shipment's statuses."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import pytest
from pydantic import ValidationError

from adapters.settings import Settings
from adapters.shipping.sandbox import SandboxCarrier
from adapters.shipping.sandbox_scenarios import DELAY_STEPS, SCENARIOS, choose_scenario
from adapters.shipping.sandbox_tracking import SandboxTrackingPlan
from application.ports import InboundEvent
from domain.events import DeliveryExceptionRaised
from domain.orders import ShippingAddress
from domain.shipments import DeliveryProblem, Shipment, TrackingUpdate
from tests.fakes import FakeClock

BOOKED = datetime(2031, 5, 1, 9, 0, tzinfo=UTC)
STEP = 30.0


def _address(line2: str = "", postal_code: str = "04524", country: str = "KR") -> ShippingAddress:
    return ShippingAddress("Ada", "1 Sejong-daero", line2, "Seoul", postal_code, country)


def _carrier(default: str = "normal") -> SandboxCarrier:
    clock = FakeClock(BOOKED)
    plan = SandboxTrackingPlan(cast(Any, None), clock, 0.05)  # journeys only: nothing is sent
    return SandboxCarrier(plan, cast(Any, None), ["whsec"], STEP, clock, default)


@pytest.mark.parametrize(("line2", "postal_code", "country", "default", "expected"), [
    ("", "04524", "KR", "normal", ("normal", "default")),
    ("", "04524", "KR", "lost", ("lost", "default")),
    ("Apt 5 scenario:failed_attempt", "04524", "KR", "normal", ("failed_attempt", "marker")),
    ("SCENARIO: Return", "04524", "KR", "normal", ("return", "marker")),
    ("scenario:customs-hold", "10001", "US", "normal", ("customs_hold", "marker")),
    ("", "00000", "KR", "normal", ("address_error", "postal_code")),
    ("scenario:lost", "00000", "KR", "normal", ("lost", "marker")),  # the marker says more
    ("scenario:chaos", "04524", "KR", "delay", ("delay", "unknown_marker")),
    ("scenario:chaos", "00000", "KR", "delay", ("address_error", "postal_code")),
    # Customs hold only parcels that cross a border.
    ("scenario:customs_hold", "04524", "KR", "normal", ("normal", "domestic")),
    ("", "04524", "KR", "customs_hold", ("normal", "domestic")),
    ("", "75001", "FR", "customs_hold", ("customs_hold", "default")),
])
def test_a_parcel_plays_its_marker_else_the_postal_code_else_the_default(
    line2: str, postal_code: str, country: str, default: str, expected: tuple[str, str],
) -> None:
    choice = choose_scenario(_address(line2, postal_code, country), default)
    assert (choice.scenario, choice.chosen_by) == expected


@pytest.mark.parametrize(("line2", "postal_code", "expected"), [
    ("scenario:lost", "04524", ("normal", "reshipment")),
    ("", "04524", ("normal", "reshipment")),
    ("scenario:lost", "00000", ("address_error", "postal_code")),  # still not corrected
])
def test_a_reshipment_ignores_the_marker_and_the_default(
    line2: str, postal_code: str, expected: tuple[str, str],
) -> None:
    choice = choose_scenario(_address(line2, postal_code), "return", reshipment=True)
    assert (choice.scenario, choice.chosen_by) == expected


def test_an_unknown_default_scenario_is_refused_at_settings_load_naming_the_choices() -> None:
    with pytest.raises(ValidationError) as refused:
        Settings(sandbox_carrier_scenario="chaos")
    message = str(refused.value)
    assert "sandbox_carrier_scenario" in message and "'chaos'" in message
    assert all(name in message for name in SCENARIOS)
    assert Settings(sandbox_carrier_scenario="return").sandbox_carrier_scenario == "return"


def test_an_unknown_default_scenario_is_refused_by_the_carrier_too() -> None:
    with pytest.raises(ValueError, match="unknown sandbox carrier scenario 'chaos'"):
        _carrier("chaos")


# scenario: the statuses its events report, with their problems, and the shipment's last status.
JOURNEYS: dict[str, tuple[list[tuple[str, str | None]], str]] = {
    "normal": ([("picked_up", None), ("in_transit", None), ("out_for_delivery", None),
                ("delivered", None)], "delivered"),
    "delay": ([("picked_up", None), ("in_transit", None), ("out_for_delivery", None),
               ("delivered", None)], "delivered"),
    "failed_attempt": ([("picked_up", None), ("in_transit", None), ("out_for_delivery", None),
                        ("exception", "failed_attempt"), ("out_for_delivery", None),
                        ("delivered", None)], "delivered"),
    "address_error": ([("picked_up", None), ("in_transit", None),
                       ("exception", "address_problem")], "exception"),
    "lost": ([("picked_up", None), ("in_transit", None), ("exception", "lost")], "exception"),
    "return": ([("picked_up", None), ("in_transit", None), ("out_for_delivery", None),
                ("exception", "returned_to_sender"), ("returned", "returned_to_sender")],
               "returned"),
    "customs_hold": ([("picked_up", None), ("in_transit", None), ("exception", "customs_hold"),
                      ("in_transit", None), ("out_for_delivery", None), ("delivered", None)],
                     "delivered"),
}


def _updates(scenario: str) -> list[TrackingUpdate]:
    carrier = _carrier()
    updates = []
    for _, event in carrier.journey("SBX000000000001", "ord_1", scenario, BOOKED):
        update = carrier.translate_webhook(InboundEvent(event["id"], event["type"], event))
        assert update is not None
        updates.append(update)
    return updates


def test_every_scenario_is_documented_here() -> None:
    assert set(JOURNEYS) == set(SCENARIOS)


@pytest.mark.parametrize("scenario", sorted(JOURNEYS))
def test_each_scenario_reports_its_journey_and_the_shipment_follows_it(scenario: str) -> None:
    updates = _updates(scenario)
    reported, last = JOURNEYS[scenario]
    assert [(u.status.value, u.problem.value if u.problem else None)
            for u in updates] == reported
    # Each event happens at its own time, one step (or more) after the one before.
    times = [u.occurred_at for u in updates]
    assert times[0] > BOOKED and times == sorted(times) and len(set(times)) == len(times)
    shipment = Shipment("shp_1", "ord_1", "seller-a", "sandbox-express")
    shipment.accepted("SBX000000000001")
    seen = []
    for update in updates:
        shipment.apply(update)
        seen.append(shipment.status.value)
    assert seen == [status for status, _ in reported]
    assert shipment.status.value == last
    raised = [e.problem for e in shipment.events if isinstance(e, DeliveryExceptionRaised)]
    assert raised == [problem for status, problem in reported if problem]
    # However the events arrive, the shipment ends the same.
    for seed in range(5):
        shuffled = list(updates) * 2
        random.Random(seed).shuffle(shuffled)
        again = Shipment("shp_1", "ord_1", "seller-a", "sandbox-express")
        again.accepted("SBX000000000001")
        for update in shuffled:
            again.apply(update)
        assert (again.status, again.history) == (shipment.status, shipment.history)


def test_a_delayed_parcel_waits_at_the_sorting_centre() -> None:
    picked_up, in_transit, *_ = _updates("delay")
    assert in_transit.occurred_at - picked_up.occurred_at == timedelta(seconds=STEP * DELAY_STEPS)
    normal = _updates("normal")
    assert normal[1].occurred_at - normal[0].occurred_at == timedelta(seconds=STEP)


def test_a_failed_attempt_is_tried_again_and_the_exception_names_its_problem() -> None:
    shipment = Shipment("shp_1", "ord_1", "seller-a", "sandbox-express")
    shipment.accepted("SBX000000000001")
    for update in _updates("failed_attempt")[:4]:
        shipment.apply(update)
    assert shipment.status.value == "exception"
    assert shipment.problem == DeliveryProblem.FAILED_ATTEMPT


@pytest.mark.parametrize(("problem", "expected"), [
    ("lost", DeliveryProblem.LOST), (None, DeliveryProblem.ADDRESS_PROBLEM),
    ("no-such-problem", DeliveryProblem.ADDRESS_PROBLEM),
])
def test_the_problem_code_is_read_and_an_unknown_one_falls_back_to_the_detail(
    problem: str | None, expected: DeliveryProblem,
) -> None:
    event = {"id": "trk_1", "type": "tracking.updated", "data": {
        "tracking_number": "SBX000000000001", "status": "exception", "problem": problem,
        "detail": "the address could not be found", "occurred_at": BOOKED.isoformat()}}
    update = _carrier().translate_webhook(InboundEvent("trk_1", "tracking.updated", event))
    assert update is not None and update.problem == expected
