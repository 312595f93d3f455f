"""Delivery incidents: a parcel the carrier could not deliver, and who must act on it by when.

An incident has a type (the carrier's delivery problem), an owner (who is accountable for
moving it on: the customer for an address or a missed delivery, the seller for goods damaged,
lost or sent back, the operators for customs), a deadline per type, and a status. The customer
is offered what their problem allows (correct the address, pick another delivery date, have the
goods shipped again, or be refunded); choosing a delivery option or a refund resolves it. Left
alone past its deadline, it escalates to the operators.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import StrEnum

from domain.errors import DomainError, InvalidTransition
from domain.money import Money
from domain.orders import Order
from domain.shipments import DeliveryProblem, Shipment

KIND = "delivery_exception"  # the incident kind these are kept under
MAX_RESCHEDULE_DAYS = 14  # a later date is a new order, not a redelivery


class Owner(StrEnum):
    CUSTOMER = "customer"
    SELLER = "seller"
    OPERATORS = "operators"


class IncidentStatus(StrEnum):
    OPEN = "open"  # the operators' to look at
    AWAITING_CUSTOMER = "awaiting_customer"
    AWAITING_SELLER = "awaiting_seller"
    ESCALATED = "escalated"  # past its deadline: the operators were alerted
    RESOLVED = "resolved"


class CustomerOption(StrEnum):
    """What the customer can ask for."""

    CORRECT_ADDRESS = "correct_address"
    RESCHEDULE = "reschedule"
    RESHIPMENT = "reshipment"
    REFUND = "refund"


class Resolution(StrEnum):
    RESCHEDULED = "rescheduled"
    RESHIPPED = "reshipped"
    REFUNDED = "refunded"
    DELIVERED = "delivered"  # the carrier delivered the parcel after all


P, Ask = DeliveryProblem, CustomerOption
OWNERS: Mapping[DeliveryProblem, Owner] = {
    P.FAILED_ATTEMPT: Owner.CUSTOMER,
    P.ADDRESS_PROBLEM: Owner.CUSTOMER,
    P.CUSTOMS_HOLD: Owner.OPERATORS,
    P.DAMAGED: Owner.SELLER,
    P.LOST: Owner.SELLER,
    P.RETURNED_TO_SENDER: Owner.SELLER,
    P.OTHER: Owner.OPERATORS,
}
# A parcel still with the carrier can come another day; one gone (lost, damaged, back with
# the seller) can only be sent again or paid back. Customs decides for itself: a refund is
# the one thing the customer can choose there.
OPTIONS: Mapping[DeliveryProblem, tuple[CustomerOption, ...]] = {
    P.FAILED_ATTEMPT: (Ask.CORRECT_ADDRESS, Ask.RESCHEDULE, Ask.RESHIPMENT, Ask.REFUND),
    P.ADDRESS_PROBLEM: (Ask.CORRECT_ADDRESS, Ask.RESCHEDULE, Ask.RESHIPMENT, Ask.REFUND),
    P.CUSTOMS_HOLD: (Ask.REFUND,),
    P.DAMAGED: (Ask.RESHIPMENT, Ask.REFUND),
    P.LOST: (Ask.RESHIPMENT, Ask.REFUND),
    P.RETURNED_TO_SENDER: (Ask.CORRECT_ADDRESS, Ask.RESHIPMENT, Ask.REFUND),
    P.OTHER: (Ask.RESHIPMENT, Ask.REFUND),
}
DEFAULT_DEADLINES: Mapping[DeliveryProblem, timedelta] = {
    P.FAILED_ATTEMPT: timedelta(hours=48),
    P.ADDRESS_PROBLEM: timedelta(hours=48),
    P.CUSTOMS_HOLD: timedelta(hours=72),
    P.DAMAGED: timedelta(hours=48),
    P.LOST: timedelta(hours=72),
    P.RETURNED_TO_SENDER: timedelta(hours=72),
    P.OTHER: timedelta(hours=48),
}
_STATUS_OF = {Owner.CUSTOMER: IncidentStatus.AWAITING_CUSTOMER,
              Owner.SELLER: IncidentStatus.AWAITING_SELLER,
              Owner.OPERATORS: IncidentStatus.OPEN}
_RESOLVING = {Ask.RESCHEDULE: Resolution.RESCHEDULED, Ask.RESHIPMENT: Resolution.RESHIPPED,
              Ask.REFUND: Resolution.REFUNDED}
UNRESOLVED = frozenset({IncidentStatus.OPEN, IncidentStatus.AWAITING_CUSTOMER,
                        IncidentStatus.AWAITING_SELLER, IncidentStatus.ESCALATED})


@dataclass
class DeliveryIncident:
    id: str
    order_id: str
    shipment_id: str
    seller_id: str
    problem: DeliveryProblem
    reason: str  # the carrier's words, never an address we hold
    owner: Owner
    status: IncidentStatus
    opened_at: datetime
    # When it last moved: its deadline runs from here, so a customer who acts is not chased.
    updated_at: datetime
    resolution: Resolution | None = None
    resolved_at: datetime | None = None
    # What was done, in order, without personal data: {"step", "at", ...}.
    steps: list[dict[str, str]] = field(default_factory=list)

    @classmethod
    def open(cls, incident_id: str, *, order_id: str, shipment_id: str, seller_id: str,
             problem: DeliveryProblem, reason: str, now: datetime) -> DeliveryIncident:
        owner = OWNERS[problem]
        return cls(incident_id, order_id, shipment_id, seller_id, problem, reason[:500],
                   owner, _STATUS_OF[owner], now, now,
                   steps=[{"step": "opened", "at": now.isoformat()}])

    @property
    def options(self) -> tuple[CustomerOption, ...]:
        """What the customer can still ask for (nothing once resolved)."""
        return () if self.status == IncidentStatus.RESOLVED else OPTIONS[self.problem]

    @property
    def address_corrected(self) -> bool:
        return any(step["step"] == "address_corrected" for step in self.steps)

    def deadline(self, deadlines: Mapping[DeliveryProblem, timedelta]) -> datetime:
        return self.updated_at + deadlines.get(self.problem, DEFAULT_DEADLINES[self.problem])

    def check_option(self, option: CustomerOption) -> None:
        """Refuse what the customer cannot ask for on this incident now."""
        if self.status == IncidentStatus.RESOLVED:
            raise InvalidTransition(
                f"incident {self.id} is resolved already ({self.resolution}); nothing more "
                "can be chosen on it")
        if option not in OPTIONS[self.problem]:
            offered = ", ".join(OPTIONS[self.problem])
            raise DomainError(f"a {self.problem.value.replace('_', ' ')} does not offer "
                              f"{option.value}; choose one of: {offered}")

    def correct_address(self, now: datetime) -> None:
        """The customer gave a new address: their next choice ships there."""
        self.check_option(Ask.CORRECT_ADDRESS)
        self._step("address_corrected", now)
        if self.owner == Owner.CUSTOMER and self.status != IncidentStatus.ESCALATED:
            self.status = IncidentStatus.AWAITING_CUSTOMER

    def resolve(self, option: CustomerOption, now: datetime, **outcome: str) -> None:
        """The customer chose a delivery date, a reshipment or a refund: the incident ends.
        `outcome` names what came of it (the new shipment, the refund, the date)."""
        self.check_option(option)
        if option not in _RESOLVING:
            raise DomainError(f"{option.value} does not resolve an incident by itself")
        self._step(option.value, now, **outcome)
        self.status, self.resolution, self.resolved_at = (
            IncidentStatus.RESOLVED, _RESOLVING[option], now)

    def parcel_delivered(self, at: datetime) -> bool:
        """The carrier delivered the parcel after all (a second attempt, customs released
        it): nothing is left to choose. False when it was resolved already."""
        if self.status == IncidentStatus.RESOLVED:
            return False
        self._step("delivered", at)
        self.status, self.resolution, self.resolved_at = (
            IncidentStatus.RESOLVED, Resolution.DELIVERED, at)
        return True

    def repeats(self, shipment_id: str, problem: DeliveryProblem) -> bool:
        """The same parcel reporting the same problem while this incident is still open:
        the carrier said it again, there is nothing new to ask."""
        return (self.status != IncidentStatus.RESOLVED and self.shipment_id == shipment_id
                and self.problem == problem)

    def is_overdue(self, now: datetime, deadlines: Mapping[DeliveryProblem, timedelta]) -> bool:
        """Unresolved, not escalated yet, and left alone past its deadline."""
        return (self.status not in (IncidentStatus.RESOLVED, IncidentStatus.ESCALATED)
                and now >= self.deadline(deadlines))

    def escalate(self, now: datetime) -> None:
        if self.status == IncidentStatus.RESOLVED:
            raise InvalidTransition(f"incident {self.id} is resolved; it cannot escalate")
        if self.status == IncidentStatus.ESCALATED:
            return
        self._step("escalated", now)
        self.status = IncidentStatus.ESCALATED

    def _step(self, step: str, now: datetime, **outcome: str) -> None:
        self.steps.append({"step": step, "at": now.isoformat(), **outcome})
        self.updated_at = now


def check_delivery_date(wanted: date, today: date) -> None:
    """A redelivery date the carrier can still be asked for: after today, within two weeks."""
    if wanted <= today:
        raise DomainError(f"choose a delivery date after today ({today.isoformat()})")
    if wanted > today + timedelta(days=MAX_RESCHEDULE_DAYS):
        raise DomainError(f"choose a delivery date within {MAX_RESCHEDULE_DAYS} days "
                          f"(by {(today + timedelta(days=MAX_RESCHEDULE_DAYS)).isoformat()})")


def parcel_value(order: Order, shipment: Shipment) -> Money:
    """What the goods in `shipment` cost the customer: the refund for a parcel not delivered."""
    lines = order.lines_of(shipment.seller_id)
    quantities = shipment.quantities({line.sku: line.quantity for line in lines})
    total = Money.zero(order.currency)
    for line in lines:
        total = total + line.unit_price * min(quantities.get(line.sku, 0), line.quantity)
    return total
