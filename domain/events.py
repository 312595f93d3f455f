"""Domain events: past-tense facts that aggregates raise and use cases publish."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Event:
    """Base of every domain event."""


@dataclass(frozen=True)
class CustomerRegistered(Event):
    customer_id: str


@dataclass(frozen=True)
class OrderEvent(Event):
    """A fact about one order, and so about the customer who placed it. A subclass without
    fields of its own needs no decorator: it is the same frozen dataclass under its own name."""

    order_id: str
    customer_id: str


@dataclass(frozen=True)
class OrderPlaced(OrderEvent):
    total_minor: int
    currency: str


class OrderPaid(OrderEvent):
    """The order's money was taken in full: it can ship."""


@dataclass(frozen=True)
class PaymentFailed(OrderEvent):
    reason: str


class PaymentAwaitingDeposit(OrderEvent):
    """The customer has a virtual account to pay into; the order waits for the deposit."""


@dataclass(frozen=True)
class ShipmentStatusChanged(OrderEvent):
    shipment_id: str
    status: str
    carrier: str = ""
    tracking_number: str = ""  # what the customer looks the parcel up by


@dataclass(frozen=True)
class DeliveryExceptionRaised(OrderEvent):
    seller_id: str
    shipment_id: str
    reason: str
    problem: str = "other"  # a domain.shipments.DeliveryProblem value


class OrderDelivered(OrderEvent):
    """Every parcel of the order reached the customer."""


@dataclass(frozen=True)
class PaymentRefunded(OrderEvent):
    amount_minor: int
    currency: str


@dataclass(frozen=True)
class DisputeOpened(OrderEvent):
    payment_id: str
    amount_minor: int
    currency: str


@dataclass(frozen=True)
class DisputeClosed(OrderEvent):
    payment_id: str
    outcome: str  # "won" | "lost"


@dataclass(frozen=True)
class OrderCancelled(OrderEvent):
    reason: str  # a FailureReason value


@dataclass(frozen=True)
class OrderHeld(OrderEvent):
    """The fraud screen held the order for a human: nothing ships until they decide."""

    score: float
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class ReviewDecided(OrderEvent):
    decision: str  # "approved" | "rejected"
    decided_by: str
