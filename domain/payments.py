"""A payment attempt for an order and the rules for applying what the provider tells us.

Provider answers arrive twice, late, or out of order (synchronous reply, webhook, reconciliation);
`Payment.apply` keeps the most advanced truth so a late `processing` never undoes `succeeded`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from domain.errors import DomainError
from domain.money import Money


class PaymentStatus(StrEnum):
    PENDING = "pending"  # recorded, provider not asked yet
    PROCESSING = "processing"
    REQUIRES_ACTION = "requires_action"
    AWAITING_DEPOSIT = "awaiting_deposit"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


_RANK = {
    PaymentStatus.PENDING: 0,
    PaymentStatus.PROCESSING: 1,
    PaymentStatus.REQUIRES_ACTION: 2,
    PaymentStatus.AWAITING_DEPOSIT: 2,
    PaymentStatus.FAILED: 3,
    PaymentStatus.CANCELLED: 3,
    PaymentStatus.SUCCEEDED: 4,  # money moved: nothing the provider says later undoes it here
}
FINAL = frozenset({PaymentStatus.SUCCEEDED, PaymentStatus.FAILED, PaymentStatus.CANCELLED})


@dataclass(frozen=True)
class PaymentUpdate:
    """What a provider said about a payment, already translated into our words."""

    status: PaymentStatus
    provider_reference: str | None = None
    failure_code: str | None = None
    failure_message: str | None = None
    next_action: dict[str, Any] | None = None
    deposit_account: dict[str, Any] | None = None
    # Our own payment id as the provider echoes it back (Stripe metadata, Toss orderId): it
    # finds the payment when a webhook overtakes the answer that carried the reference.
    merchant_reference: str | None = None


@dataclass
class Payment:
    id: str
    order_id: str
    customer_id: str
    provider: str
    amount: Money
    method: str  # a provider token kind such as "card" or "virtual_account", never card data
    idempotency_key: str
    status: PaymentStatus = PaymentStatus.PENDING
    provider_reference: str | None = None
    failure_code: str | None = None
    failure_message: str | None = None
    next_action: dict[str, Any] | None = None
    deposit_account: dict[str, Any] | None = None
    created_at: datetime | None = None
    history: list[str] = field(default_factory=list)

    @property
    def is_final(self) -> bool:
        return self.status in FINAL

    def apply(self, update: PaymentUpdate) -> bool:
        """Apply a provider update; True when it changed our status."""
        if (
            self.provider_reference
            and update.provider_reference
            and update.provider_reference != self.provider_reference
        ):
            raise DomainError(
                f"update for {update.provider_reference} does not belong to payment {self.id}"
            )
        if update.provider_reference:
            self.provider_reference = update.provider_reference
        if update.deposit_account and not self.deposit_account:
            self.deposit_account = update.deposit_account
        if _RANK[update.status] < _RANK[self.status] or update.status == self.status:
            return False
        if self.status in FINAL and update.status != PaymentStatus.SUCCEEDED:
            return False
        self.status = update.status
        self.history.append(update.status.value)
        self.failure_code = update.failure_code
        self.failure_message = update.failure_message
        self.next_action = update.next_action
        return True
