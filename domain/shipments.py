"""Shipments: the parcels an order goes out in, each with its own carrier and tracking.

A seller's lines may leave in several parcels (partial fulfilment, a backorder sent later), and
one order may span sellers and carriers. Carriers report out of order and repeat themselves, so
a shipment keeps every distinct tracking event it heard of and its status is a function of that
set: the same events in any order, any number of times, give the same shipment.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from domain.events import DeliveryExceptionRaised, Event, ShipmentStatusChanged


class ShipmentStatus(StrEnum):
    REQUESTED = "requested"  # waiting for the carrier to accept it
    CREATED = "created"
    PICKED_UP = "picked_up"
    IN_TRANSIT = "in_transit"
    OUT_FOR_DELIVERY = "out_for_delivery"
    EXCEPTION = "exception"
    DELIVERED = "delivered"
    RETURNED = "returned"


class DeliveryProblem(StrEnum):
    """Why a parcel is stuck: what the customer and the seller are asked to act on."""

    FAILED_ATTEMPT = "failed_attempt"
    ADDRESS_PROBLEM = "address_problem"
    CUSTOMS_HOLD = "customs_hold"
    DAMAGED = "damaged"
    LOST = "lost"
    RETURNED_TO_SENDER = "returned_to_sender"
    OTHER = "other"

    @classmethod
    def from_detail(cls, detail: str) -> DeliveryProblem:
        """The problem a carrier's free text names, for carriers that give no code."""
        text = detail.lower()
        for words, problem in _PROBLEM_WORDS:
            if any(word in text for word in words):
                return problem
        return cls.OTHER


_PROBLEM_WORDS: tuple[tuple[tuple[str, ...], DeliveryProblem], ...] = (
    (("return",), DeliveryProblem.RETURNED_TO_SENDER),
    (("customs",), DeliveryProblem.CUSTOMS_HOLD),
    (("damage",), DeliveryProblem.DAMAGED),
    (("lost", "missing"), DeliveryProblem.LOST),
    (("address",), DeliveryProblem.ADDRESS_PROBLEM),
    (("attempt", "not home", "no one", "refused", "부재"), DeliveryProblem.FAILED_ATTEMPT),
)

_RANK = {
    ShipmentStatus.REQUESTED: 0,
    ShipmentStatus.CREATED: 1,
    ShipmentStatus.PICKED_UP: 2,
    ShipmentStatus.IN_TRANSIT: 3,
    ShipmentStatus.OUT_FOR_DELIVERY: 4,
    ShipmentStatus.EXCEPTION: 4,
    ShipmentStatus.DELIVERED: 6,
    ShipmentStatus.RETURNED: 6,
}
FINAL = frozenset({ShipmentStatus.DELIVERED, ShipmentStatus.RETURNED})
# Statuses of a parcel that has left the seller.
LEFT = frozenset({ShipmentStatus.PICKED_UP, ShipmentStatus.IN_TRANSIT,
                  ShipmentStatus.OUT_FOR_DELIVERY, ShipmentStatus.EXCEPTION,
                  ShipmentStatus.DELIVERED, ShipmentStatus.RETURNED})


@dataclass(frozen=True)
class TrackingUpdate:
    """A carrier's tracking event in our words."""

    tracking_number: str
    status: ShipmentStatus
    occurred_at: datetime
    detail: str = ""
    problem: DeliveryProblem | None = None  # set for an exception or a return

    def __post_init__(self) -> None:
        if self.status == ShipmentStatus.RETURNED:
            object.__setattr__(self, "problem", DeliveryProblem.RETURNED_TO_SENDER)
        elif self.status == ShipmentStatus.EXCEPTION and self.problem is None:
            object.__setattr__(self, "problem", DeliveryProblem.from_detail(self.detail))
        elif self.status != ShipmentStatus.EXCEPTION:
            object.__setattr__(self, "problem", None)

    @property
    def key(self) -> tuple[str, str]:
        """What makes two reports the same event: when, and what happened."""
        return (self.occurred_at.isoformat(), self.status.value)


def _order(update: TrackingUpdate) -> tuple[datetime, int, str]:
    return (update.occurred_at, _RANK[update.status], update.status.value)


@dataclass
class Shipment:
    id: str
    order_id: str
    seller_id: str
    carrier: str
    status: ShipmentStatus = ShipmentStatus.REQUESTED
    tracking_number: str | None = None
    last_event_at: datetime | None = None
    history: list[str] = field(default_factory=list)
    # What is in the parcel: quantity per SKU of the seller's lines; empty means all of them.
    lines: dict[str, int] = field(default_factory=dict)
    service: str = ""
    # Every distinct tracking event heard of; status and history are folded from them.
    marks: list[TrackingUpdate] = field(default_factory=list, repr=False)
    events: list[Event] = field(default_factory=list, compare=False, repr=False)

    def accepted(self, tracking_number: str, customer_id: str = "") -> None:
        """The carrier booked the parcel under `tracking_number` (or the seller handed it over)."""
        self.tracking_number = tracking_number
        if self.status == ShipmentStatus.REQUESTED:
            self.status = ShipmentStatus.CREATED
        self.events.append(ShipmentStatusChanged(self.order_id, customer_id, self.id,
                                                 self.status.value, self.carrier,
                                                 self.tracking_number or ""))

    @property
    def problem(self) -> DeliveryProblem | None:
        """Why the parcel is stuck or came back, while it is."""
        if self.status not in (ShipmentStatus.EXCEPTION, ShipmentStatus.RETURNED):
            return None
        stuck = [m for m in self.marks if m.status == self.status]
        return max(stuck, key=_order).problem if stuck else DeliveryProblem.OTHER

    def apply(self, update: TrackingUpdate, customer_id: str = "") -> bool:
        """Hear a tracking event; True when the shipment's status moved.

        The events are replayed in the carrier's time order: a status never moves back, except
        out of an exception (the carrier tried again), and delivered or returned is final.
        A repeated event is ignored.
        """
        if any(mark.key == update.key for mark in self.marks):
            return False
        before = self.status
        self.marks.append(update)
        self._fold()
        if self.status == before:
            return False
        self.events.append(ShipmentStatusChanged(self.order_id, customer_id, self.id,
                                                 self.status.value, self.carrier,
                                                 self.tracking_number or ""))
        problem = self.problem
        if problem is not None:
            # The customer and the seller are asked to act (an incident follows).
            latest = max((m for m in self.marks if m.status == self.status), key=_order)
            self.events.append(DeliveryExceptionRaised(
                self.order_id, customer_id, self.seller_id, self.id,
                latest.detail or problem.value.replace("_", " "), problem.value))
        return True

    def _fold(self) -> None:
        status = ShipmentStatus.CREATED if self.tracking_number else ShipmentStatus.REQUESTED
        last: datetime | None = None
        history: list[str] = []
        for mark in sorted(self.marks, key=_order):
            if mark.status == status or status in FINAL:
                continue
            # Out of an exception a parcel may move back to any leg of its journey, never
            # to "not left yet": what has left the seller stays left, in any order of news.
            if _RANK[mark.status] < _RANK[status] and not (
                    status == ShipmentStatus.EXCEPTION and mark.status in LEFT):
                continue
            status, last = mark.status, mark.occurred_at
            history.append(status.value)
        self.status, self.last_event_at, self.history = status, last, history

    def quantities(self, seller_lines: dict[str, int]) -> dict[str, int]:
        """What the parcel holds, given the quantities of its seller's lines."""
        return dict(self.lines) if self.lines else dict(seller_lines)
