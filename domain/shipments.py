"""Shipments: one per seller of an order, each tracked on its own."""

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


@dataclass(frozen=True)
class TrackingUpdate:
    """A carrier's tracking event in our words."""

    tracking_number: str
    status: ShipmentStatus
    occurred_at: datetime
    detail: str = ""


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
    events: list[Event] = field(default_factory=list, compare=False, repr=False)

    def accepted(self, tracking_number: str, customer_id: str = "") -> None:
        """The carrier booked the parcel under `tracking_number`."""
        self.tracking_number = tracking_number
        if self.status == ShipmentStatus.REQUESTED:
            self.status = ShipmentStatus.CREATED
        self.events.append(ShipmentStatusChanged(self.order_id, customer_id, self.id,
                                                 self.status.value))

    def apply(self, update: TrackingUpdate, customer_id: str = "") -> bool:
        """Apply a tracking event; True when the status moved.

        Events come out of order: an event older than the last one applied changes nothing,
        a newer one never moves a shipment back, except out of an exception (the carrier
        tried again), and delivered or returned is final.
        """
        if update.status == self.status:
            return False
        if self.status in (ShipmentStatus.DELIVERED, ShipmentStatus.RETURNED):
            return False
        if self.last_event_at is not None and update.occurred_at <= self.last_event_at:
            return False
        if _RANK[update.status] < _RANK[self.status] and self.status != ShipmentStatus.EXCEPTION:
            return False
        self.status = update.status
        self.last_event_at = update.occurred_at
        self.history.append(update.status.value)
        self.events.append(ShipmentStatusChanged(self.order_id, customer_id, self.id,
                                                 self.status.value))
        if self.status == ShipmentStatus.EXCEPTION:
            # The customer and the seller are asked to act (an incident follows).
            self.events.append(DeliveryExceptionRaised(
                self.order_id, customer_id, self.seller_id, self.id,
                update.detail or "delivery exception"))
        return True
