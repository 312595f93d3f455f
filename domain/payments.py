"""A payment attempt for an order, whose state derives from an append-only log of facts.

Providers report facts (authorized, captured, refunded 500, dispute opened) twice, late, or out
of order: through the synchronous reply, a webhook, or reconciliation. As Saleor's transactions
do, we append each fact once (keyed by what it is about) and derive the amounts and the status
from the whole log, so the same facts give the same state whatever order they came in, and a
late `processing` never undoes `captured`.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from domain.errors import DomainError
from domain.events import DisputeClosed, DisputeOpened, Event, PaymentRefunded
from domain.money import Money


class PaymentStatus(StrEnum):
    PENDING = "pending"  # recorded, provider not asked yet
    PROCESSING = "processing"
    REQUIRES_ACTION = "requires_action"
    AWAITING_DEPOSIT = "awaiting_deposit"
    AUTHORIZED = "authorized"  # funds held, not captured (manual capture, fraud review)
    CAPTURED = "captured"
    PARTIALLY_REFUNDED = "partially_refunded"
    REFUNDED = "refunded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    DISPUTED = "disputed"
    DISPUTE_WON = "dispute_won"
    DISPUTE_LOST = "dispute_lost"


class EventType(StrEnum):
    PROCESSING = "processing"
    ACTION_REQUIRED = "action_required"
    DEPOSIT_REQUESTED = "deposit_requested"
    AUTHORIZED = "authorized"
    CAPTURED = "captured"
    FAILED = "failed"
    CANCELLED = "cancelled"
    REFUND_REQUESTED = "refund_requested"  # by us; `reference` is our refund id
    REFUNDED = "refunded"
    REFUND_FAILED = "refund_failed"
    DISPUTE_OPENED = "dispute_opened"
    DISPUTE_WON = "dispute_won"
    DISPUTE_LOST = "dispute_lost"
    # A card holder's inquiry (Stripe's `warning_*` disputes): the issuer asks questions but
    # takes no money, so amounts and status stay as they are; it may escalate to a dispute.
    INQUIRY_OPENED = "inquiry_opened"
    INQUIRY_CLOSED = "inquiry_closed"


class CancellationReason(StrEnum):
    """Why we call off a payment or give its money back; adapters translate it into their
    provider's vocabulary (Stripe's `cancellation_reason`, Toss's `cancelReason`)."""

    FRAUDULENT = "fraudulent"  # rejected in fraud review
    ABANDONED = "abandoned"  # 3-D Secure never finished, or a deposit never came
    DUPLICATE = "duplicate"  # a second payment for an order already paid or cancelled
    REQUESTED_BY_CUSTOMER = "requested_by_customer"


# Methods that can hold money without taking it (an authorization captured later). A bank
# transfer into a virtual account moves the money when the customer sends it: nothing to hold.
DEFERRED_CAPTURE_METHODS = frozenset({"card"})


def can_defer_capture(method: str) -> bool:
    return method in DEFERRED_CAPTURE_METHODS


# Statuses the customer waits in; the latest of them by the provider's clock is shown.
_PROGRESS = {
    EventType.PROCESSING: (1, PaymentStatus.PROCESSING),
    EventType.ACTION_REQUIRED: (2, PaymentStatus.REQUIRES_ACTION),
    EventType.DEPOSIT_REQUESTED: (2, PaymentStatus.AWAITING_DEPOSIT),
}
# Nothing the provider says later changes these on its own.
FINAL = frozenset({PaymentStatus.FAILED, PaymentStatus.CANCELLED, PaymentStatus.REFUNDED,
                   PaymentStatus.DISPUTE_LOST})
# Money was taken (even if some went back since).
MONEY_TAKEN = frozenset({PaymentStatus.CAPTURED, PaymentStatus.PARTIALLY_REFUNDED,
                         PaymentStatus.REFUNDED, PaymentStatus.DISPUTED,
                         PaymentStatus.DISPUTE_WON, PaymentStatus.DISPUTE_LOST})
# Statuses in which we still wait for the provider, and so ask it during reconciliation.
UNSETTLED = frozenset({PaymentStatus.PENDING, PaymentStatus.PROCESSING,
                       PaymentStatus.REQUIRES_ACTION, PaymentStatus.AWAITING_DEPOSIT})


@dataclass(frozen=True)
class PaymentEvent:
    """One fact about a payment. `amount` is in minor units (None: the whole payment)."""

    type: EventType
    amount: int | None = None
    reference: str = ""  # the provider's id of this fact (refund, dispute); "" for the payment
    running_total: bool = False  # the amount is a running total (Stripe's amount_refunded)
    occurred_at: float | None = None  # the provider's clock, epoch seconds
    settles: str = ""  # for REFUNDED / REFUND_FAILED: our refund request it answers

    @property
    def key(self) -> str:
        """What makes the fact unique: a repeat with the same key is the same fact."""
        parts = [self.type.value, self.reference]
        if self.type in _PROGRESS and self.occurred_at is not None:
            # Progress can go back and forth (3-D Secure asked, then processing again):
            # each report at its own time is a fact of its own.
            parts.append(f"@{self.occurred_at}")
        if self.running_total:
            parts.append(str(self.amount))
        if self.settles:
            # The same refund seen first by a lookup, then in the answer to our request: the
            # second copy tells which request it settles, so it is kept too.
            parts.append(f"settles={self.settles}")
        return ":".join(parts)

    def as_dict(self) -> dict[str, Any]:
        return {"type": self.type.value, "amount": self.amount, "reference": self.reference,
                "running_total": self.running_total, "occurred_at": self.occurred_at,
                "settles": self.settles}

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> PaymentEvent:
        return cls(EventType(raw["type"]), raw.get("amount"), raw.get("reference", ""),
                   bool(raw.get("running_total")), raw.get("occurred_at"),
                   raw.get("settles", ""))


@dataclass(frozen=True)
class PaymentUpdate:
    """What a provider said about a payment, already translated into our facts."""

    events: tuple[PaymentEvent, ...] = ()
    provider_reference: str | None = None
    failure_code: str | None = None  # a FailureReason value (domain.failures)
    next_action: dict[str, Any] | None = None
    deposit_account: dict[str, Any] | None = None
    # Our own payment id as the provider echoes it back (Stripe metadata, Toss orderId): it
    # finds the payment when a webhook overtakes the answer that carried the reference.
    merchant_reference: str | None = None
    # A per-payment secret the provider will send back with its callbacks (Toss virtual
    # accounts); only its hash is kept.
    callback_secret: str | None = None
    # The message cannot be trusted as it is (an unsigned webhook): ask the provider.
    needs_lookup: bool = False

    @classmethod
    def of(cls, event_type: EventType, provider_reference: str | None = None,
           amount: int | None = None, **fields: Any) -> PaymentUpdate:
        occurred_at = fields.pop("occurred_at", None)
        return cls((PaymentEvent(event_type, amount, occurred_at=occurred_at),),
                   provider_reference, **fields)


def secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass
class Payment:
    id: str
    order_id: str
    customer_id: str
    provider: str
    amount: Money
    method: str  # a method kind such as "card" or "virtual_account", never card data
    idempotency_key: str
    status: PaymentStatus = PaymentStatus.PENDING
    provider_reference: str | None = None
    failure_code: str | None = None
    next_action: dict[str, Any] | None = None
    deposit_account: dict[str, Any] | None = None
    callback_secret_hash: str | None = None
    capture: str = "automatic"  # or "manual": held for review, captured on approval
    created_at: datetime | None = None
    history: list[str] = field(default_factory=list)  # statuses passed through
    events: list[PaymentEvent] = field(default_factory=list)
    new_events: list[PaymentEvent] = field(default_factory=list, repr=False, compare=False)
    # Domain events raised as money moves (the facts above are the payment's own log).
    raised: list[Event] = field(default_factory=list, repr=False, compare=False)

    # --- amounts, derived from the log ----------------------------------------------------

    def _of(self, *types: EventType) -> list[PaymentEvent]:
        return [e for e in self.events if e.type in types]

    def _value(self, event: PaymentEvent) -> int:
        return self.amount.amount if event.amount is None else event.amount

    @property
    def captured(self) -> int:
        return min(self.amount.amount, max(
            (self._value(e) for e in self._of(EventType.CAPTURED)), default=0))

    @property
    def authorized(self) -> int:
        """Held and neither captured nor released."""
        if self.captured or self._of(EventType.CANCELLED):
            return 0
        return max((self._value(e) for e in self._of(EventType.AUTHORIZED)), default=0)

    @property
    def refunded(self) -> int:
        by_reference = {e.reference or e.key: self._value(e)
                        for e in self._of(EventType.REFUNDED) if not e.running_total}
        single = sum(by_reference.values())
        total = max((self._value(e) for e in self._of(EventType.REFUNDED) if e.running_total),
                    default=0)
        # A running total covers the single refunds it was reported after; the larger of
        # the two is what the provider has refunded.
        return min(self.captured, max(single, total))

    def _answered_refunds(self) -> set[str]:
        """Our refund ids the provider has answered, with a refund or a refusal."""
        answered = {e.settles for e in self._of(EventType.REFUNDED) if e.settles}
        answered |= {e.reference for e in self._of(EventType.REFUND_FAILED)}
        answered |= {e.settles for e in self._of(EventType.REFUND_FAILED) if e.settles}
        return answered

    def refund_answered(self, refund_id: str) -> bool:
        return refund_id in self._answered_refunds()

    def refund_outcome(self, refund_id: str) -> str | None:
        """"refunded", "failed" or "pending" for one of our refunds; None if not ours."""
        if any(e.settles == refund_id for e in self._of(EventType.REFUNDED)):
            return "refunded"
        if refund_id in self._answered_refunds():
            return "failed"
        requested = any(e.reference == refund_id for e in self._of(EventType.REFUND_REQUESTED))
        return "pending" if requested else None

    @property
    def refund_pending(self) -> int:
        answered = self._answered_refunds()
        return sum(self._value(e) for e in self._of(EventType.REFUND_REQUESTED)
                   if e.reference not in answered)

    def _disputes(self) -> dict[str, dict[EventType, PaymentEvent]]:
        disputes: dict[str, dict[EventType, PaymentEvent]] = {}
        for event in self._of(EventType.DISPUTE_OPENED, EventType.DISPUTE_WON,
                              EventType.DISPUTE_LOST):
            disputes.setdefault(event.reference, {})[event.type] = event
        return disputes

    @property
    def disputed(self) -> int:
        """Held by the card network in open disputes."""
        return sum(self._value(d[EventType.DISPUTE_OPENED]) for d in self._disputes().values()
                   if EventType.DISPUTE_OPENED in d and len(d) == 1)

    @property
    def dispute_lost(self) -> int:
        return sum(self._value(d[EventType.DISPUTE_LOST]) for d in self._disputes().values()
                   if EventType.DISPUTE_LOST in d)

    @property
    def secured(self) -> bool:
        """The whole amount is held or taken (a partial capture is not a payment)."""
        return max(self.captured, self.authorized) >= self.amount.amount

    @property
    def net(self) -> int:
        """What the mall keeps of this payment."""
        return max(0, self.captured - self.refunded - self.dispute_lost)

    @property
    def refundable(self) -> int:
        return max(0, self.net - self.refund_pending - self.disputed)

    @property
    def inquiry_open(self) -> bool:
        """A card holder's inquiry awaits our answer (and may still become a dispute)."""
        opened = {e.reference for e in self._of(EventType.INQUIRY_OPENED)}
        ended = {e.reference for e in self._of(EventType.INQUIRY_CLOSED)}
        return bool(opened - ended - set(self._disputes()))

    def amounts(self) -> dict[str, int]:
        return {"amount": self.amount.amount, "authorized": self.authorized,
                "captured": self.captured, "refunded": self.refunded,
                "refund_pending": self.refund_pending, "disputed": self.disputed,
                "dispute_lost": self.dispute_lost, "net": self.net}

    # --- status ---------------------------------------------------------------------------

    @property
    def is_final(self) -> bool:
        return self.status in FINAL

    def derive_status(self) -> PaymentStatus:
        """The status the log as a whole says, independent of the order facts arrived in."""
        disputes = self._disputes()
        if disputes:
            if any(EventType.DISPUTE_LOST in d for d in disputes.values()):
                return PaymentStatus.DISPUTE_LOST
            if any(len(d) == 1 and EventType.DISPUTE_OPENED in d for d in disputes.values()):
                return PaymentStatus.DISPUTED
            return PaymentStatus.DISPUTE_WON
        if self.captured:
            if self.refunded >= self.captured:
                return PaymentStatus.REFUNDED
            return PaymentStatus.PARTIALLY_REFUNDED if self.refunded else PaymentStatus.CAPTURED
        if self._of(EventType.CANCELLED):
            return PaymentStatus.CANCELLED
        if self._of(EventType.AUTHORIZED):
            return PaymentStatus.AUTHORIZED
        if self._of(EventType.FAILED):
            return PaymentStatus.FAILED
        progress = [e for e in self.events if e.type in _PROGRESS]
        if not progress:
            return PaymentStatus.PENDING
        latest = max(progress, key=lambda e: (e.occurred_at or 0.0, _PROGRESS[e.type][0],
                                              e.type.value))
        return _PROGRESS[latest.type][1]

    # --- applying what the provider said -------------------------------------------------

    def record(self, event: PaymentEvent) -> bool:
        """Append one fact unless the log has it already; True when it was new."""
        if any(known.key == event.key for known in self.events):
            return False
        self.events.append(event)
        self.new_events.append(event)
        return True

    def apply(self, update: PaymentUpdate) -> bool:
        """Apply a provider update; True when it taught us anything new."""
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
        if update.callback_secret and not self.callback_secret_hash:
            self.callback_secret_hash = secret_hash(update.callback_secret)
        refunded, disputed = self.refunded, self.disputed
        learned = [self.record(event) for event in update.events]
        if not any(learned):
            return False
        self._restatus()
        self._raise_money_moves(refunded, disputed)
        if update.next_action is not None and self.status == PaymentStatus.REQUIRES_ACTION:
            self.next_action = update.next_action
        if update.failure_code and self.status in (PaymentStatus.FAILED,
                                                   PaymentStatus.CANCELLED):
            self.failure_code = update.failure_code
        return True

    def _raise_money_moves(self, refunded: int, disputed: int) -> None:
        """Money given back, or contested by the card holder, since before the update."""
        currency = self.amount.currency
        if self.refunded > refunded:
            self.raised.append(PaymentRefunded(self.order_id, self.customer_id,
                                               self.refunded - refunded, currency))
        if self.disputed > disputed:
            self.raised.append(DisputeOpened(self.order_id, self.customer_id, self.id,
                                             self.disputed - disputed, currency))
        if self.status in (PaymentStatus.DISPUTE_WON, PaymentStatus.DISPUTE_LOST) and (
                disputed and not self.disputed):
            outcome = "won" if self.status == PaymentStatus.DISPUTE_WON else "lost"
            self.raised.append(DisputeClosed(self.order_id, self.customer_id, self.id, outcome))

    def _restatus(self) -> None:
        status = self.derive_status()
        if status == self.status:
            return
        self.status = status
        self.history.append(status.value)
        if status not in (PaymentStatus.FAILED, PaymentStatus.CANCELLED):
            self.failure_code = None
        if status != PaymentStatus.REQUIRES_ACTION:
            self.next_action = None

    def accepts_callback_secret(self, secret: str) -> bool:
        return bool(self.callback_secret_hash) and hmac.compare_digest(
            secret_hash(secret), self.callback_secret_hash or "")

    def request_refund(self, refund_id: str, amount: int) -> PaymentEvent:
        """Reserve `amount` for a refund we are about to ask the provider for."""
        if amount <= 0:
            raise DomainError("a refund amount must be positive")
        if amount > self.refundable:
            raise RefundTooLarge(
                f"a refund of {Money(amount, self.amount.currency)} exceeds the "
                f"{Money(self.refundable, self.amount.currency)} still refundable on payment "
                f"{self.id}"
            )
        event = PaymentEvent(EventType.REFUND_REQUESTED, amount, refund_id)
        self.record(event)
        self._restatus()
        return event


class RefundTooLarge(DomainError):
    code = "refund-exceeds-captured"
