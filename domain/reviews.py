"""The fraud review: an order the fraud screen held until a human decides, with who decided,
when and why. A review is decided once; the same decision again changes nothing."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from domain.errors import InvalidTransition
from domain.events import Event, OrderHeld, ReviewDecided


class ReviewStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"


@dataclass
class FraudReview:
    order_id: str
    customer_id: str
    score: float
    reasons: list[str]
    opened_at: datetime
    status: str = ReviewStatus.PENDING
    decided_at: datetime | None = None
    decided_by: str | None = None
    note: str = ""
    events: list[Event] = field(default_factory=list, compare=False, repr=False)

    @classmethod
    def open(cls, order_id: str, customer_id: str, score: float, reasons: list[str],
             now: datetime) -> FraudReview:
        review = cls(order_id, customer_id, score, list(reasons), now)
        review.events.append(OrderHeld(order_id, customer_id, score, tuple(reasons)))
        return review

    def decide(self, *, approve: bool, by: str, note: str, now: datetime) -> bool:
        """Record the decision; False when the same decision was made before (a repeat).
        Another decision once one was made is refused."""
        wanted = ReviewStatus.APPROVED if approve else ReviewStatus.REJECTED
        if self.status == wanted:
            return False
        if self.status != ReviewStatus.PENDING:
            raise InvalidTransition(f"order {self.order_id} was already {self.status}")
        self.status, self.decided_at, self.decided_by = wanted, now, by
        self.note = note[:500]
        self.events.append(ReviewDecided(self.order_id, self.customer_id, wanted.value, by))
        return True
