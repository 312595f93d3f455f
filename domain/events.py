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
class OrderPlaced(Event):
    order_id: str
    customer_id: str
    total_minor: int
    currency: str


@dataclass(frozen=True)
class OrderPaid(Event):
    order_id: str
    customer_id: str


@dataclass(frozen=True)
class PaymentFailed(Event):
    order_id: str
    customer_id: str
    reason: str


@dataclass(frozen=True)
class PaymentAwaitingDeposit(Event):
    order_id: str
    customer_id: str


@dataclass(frozen=True)
class ShipmentStatusChanged(Event):
    order_id: str
    customer_id: str
    shipment_id: str
    status: str


@dataclass(frozen=True)
class DeliveryExceptionRaised(Event):
    order_id: str
    customer_id: str
    seller_id: str
    shipment_id: str
    reason: str


@dataclass(frozen=True)
class OrderDelivered(Event):
    order_id: str
    customer_id: str


@dataclass(frozen=True)
class PaymentRefunded(Event):
    order_id: str
    customer_id: str
    amount_minor: int
    currency: str


@dataclass(frozen=True)
class DisputeOpened(Event):
    order_id: str
    customer_id: str
    payment_id: str
    amount_minor: int
    currency: str


@dataclass(frozen=True)
class DisputeClosed(Event):
    order_id: str
    customer_id: str
    payment_id: str
    outcome: str  # "won" | "lost"


@dataclass(frozen=True)
class OrderCancelled(Event):
    order_id: str
    customer_id: str
    reason: str  # a FailureReason value


@dataclass(frozen=True)
class OrderHeld(Event):
    """The fraud screen held the order for a human: nothing ships until they decide."""

    order_id: str
    customer_id: str
    score: float
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class ReviewDecided(Event):
    order_id: str
    customer_id: str
    decision: str  # "approved" | "rejected"
    decided_by: str
