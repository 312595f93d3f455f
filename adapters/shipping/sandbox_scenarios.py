"""What happens to a sandbox parcel: the journeys the sandbox carrier plays, and how one is
chosen for a parcel.

A storefront user picks a journey by typing `scenario:<name>` in the second address line (for
example `scenario:failed_attempt`); a postal code of 00000 still plays an address error; any
other parcel plays the configured default (MALL_SANDBOX_CARRIER_SCENARIO, `normal` unless set).
Customs only hold parcels that cross a border: a domestic parcel asked to play `customs_hold`
plays `normal`. A reshipment (a parcel for an order whose earlier parcel reported a problem)
plays `normal`, so the way out of a delivery incident can be shown too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from domain.orders import ShippingAddress
from domain.shipments import DeliveryProblem, ShipmentStatus

ADDRESS_ERROR_POSTAL_CODE = "00000"
HOME_COUNTRY = "KR"  # where the sandbox carrier's parcels leave from
DELAY_STEPS = 10  # how many steps a delayed parcel waits at the sorting centre
MARKER = re.compile(r"scenario\s*:\s*([a-z][a-z_-]{0,39})", re.IGNORECASE)


@dataclass(frozen=True)
class Step:
    """One tracking event, `wait` steps (MALL_SANDBOX_TRACKING_STEP_SECONDS) after the one
    before it (after the booking, for the first)."""

    wait: int
    status: ShipmentStatus
    detail: str = ""
    problem: DeliveryProblem | None = None


_PICKED_UP = Step(1, ShipmentStatus.PICKED_UP, "picked up from the seller")
_IN_TRANSIT = Step(1, ShipmentStatus.IN_TRANSIT, "left the sorting centre")
_OUT = Step(1, ShipmentStatus.OUT_FOR_DELIVERY, "out for delivery")
_DELIVERED = Step(1, ShipmentStatus.DELIVERED, "handed to the recipient")

JOURNEYS: dict[str, tuple[Step, ...]] = {
    "normal": (_PICKED_UP, _IN_TRANSIT, _OUT, _DELIVERED),
    "delay": (
        _PICKED_UP,
        Step(DELAY_STEPS, ShipmentStatus.IN_TRANSIT,
             "left the sorting centre late: held up by a backlog"),
        _OUT, _DELIVERED,
    ),
    "failed_attempt": (
        _PICKED_UP, _IN_TRANSIT, _OUT,
        Step(1, ShipmentStatus.EXCEPTION, "delivery attempted: no one was at the address",
             DeliveryProblem.FAILED_ATTEMPT),
        Step(2, ShipmentStatus.OUT_FOR_DELIVERY, "out for delivery: second attempt"),
        _DELIVERED,
    ),
    "address_error": (
        _PICKED_UP, _IN_TRANSIT,
        Step(1, ShipmentStatus.EXCEPTION, "address_error: the address could not be found",
             DeliveryProblem.ADDRESS_PROBLEM),
    ),
    "lost": (
        _PICKED_UP, _IN_TRANSIT,
        Step(3, ShipmentStatus.EXCEPTION, "the parcel was lost in transit",
             DeliveryProblem.LOST),
    ),
    "return": (
        _PICKED_UP, _IN_TRANSIT, _OUT,
        Step(1, ShipmentStatus.EXCEPTION,
             "the recipient refused the parcel: it goes back to the sender",
             DeliveryProblem.RETURNED_TO_SENDER),
        Step(2, ShipmentStatus.RETURNED, "returned to the sender"),
    ),
    "customs_hold": (
        _PICKED_UP,
        Step(1, ShipmentStatus.IN_TRANSIT, "left the country of origin"),
        Step(1, ShipmentStatus.EXCEPTION, "held by customs: import duties to be paid",
             DeliveryProblem.CUSTOMS_HOLD),
        Step(3, ShipmentStatus.IN_TRANSIT, "released by customs"),
        _OUT, _DELIVERED,
    ),
}
SCENARIOS: tuple[str, ...] = tuple(JOURNEYS)


def known_scenario(name: str) -> str:
    """`name` when the sandbox carrier plays it; a ValueError naming the choices otherwise
    (the settings check MALL_SANDBOX_CARRIER_SCENARIO with it)."""
    if name not in JOURNEYS:
        raise ValueError(f"unknown sandbox carrier scenario {name!r}; choose one of: "
                         f"{', '.join(SCENARIOS)}")
    return name


@dataclass(frozen=True)
class Choice:
    scenario: str
    # marker, postal_code, default, unknown_marker, domestic (no customs) or reshipment
    chosen_by: str


def choose_scenario(address: ShippingAddress, default: str,
                    reshipment: bool = False) -> Choice:
    """The journey a parcel to `address` plays: the `scenario:<name>` marker of its second
    line, else an address error for postal code 00000, else `default`. A marker naming no
    scenario is ignored (the parcel is already booked: there is nobody to tell). A
    reshipment (the order's earlier parcel reported a problem) ignores the marker and the
    default, so the incident's way out can be shown: it goes through unless the address is
    still 00000."""
    match = MARKER.search(address.line2)
    named = match.group(1).lower().replace("-", "_") if match else None
    if reshipment:
        return (Choice("address_error", "postal_code")
                if address.postal_code == ADDRESS_ERROR_POSTAL_CODE
                else Choice("normal", "reshipment"))
    if named in JOURNEYS:
        choice = Choice(str(named), "marker")
    elif address.postal_code == ADDRESS_ERROR_POSTAL_CODE:
        choice = Choice("address_error", "postal_code")
    else:
        choice = Choice(default, "unknown_marker" if match else "default")
    if choice.scenario == "customs_hold" and address.country == HOME_COUNTRY:
        return Choice("normal", "domestic")
    return choice
