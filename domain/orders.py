"""The order aggregate: lines from one or more sellers, totals, and its status machine."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from domain.errors import DomainError, InvalidTransition
from domain.events import Event, OrderDelivered, OrderPaid, OrderPlaced
from domain.money import Money
from domain.redaction import redact_card_numbers


class OrderStatus(StrEnum):
    PENDING_PAYMENT = "pending_payment"
    PAYMENT_PROCESSING = "payment_processing"
    AWAITING_DEPOSIT = "awaiting_deposit"
    ON_HOLD = "on_hold"  # paid (or authorized) but held for a fraud review: nothing ships
    PAID = "paid"
    SHIPPED = "shipped"
    DELIVERED = "delivered"
    PARTIALLY_REFUNDED = "partially_refunded"
    REFUNDED = "refunded"
    DISPUTED = "disputed"
    DISPUTE_LOST = "dispute_lost"  # the card network took money back in a chargeback
    CANCELLED = "cancelled"


_MONEY_BACK = frozenset(
    {OrderStatus.PARTIALLY_REFUNDED, OrderStatus.REFUNDED, OrderStatus.DISPUTED,
     OrderStatus.DISPUTE_LOST})
_ALLOWED: dict[OrderStatus, frozenset[OrderStatus]] = {
    OrderStatus.PENDING_PAYMENT: frozenset(
        {OrderStatus.PAYMENT_PROCESSING, OrderStatus.AWAITING_DEPOSIT, OrderStatus.PAID,
         OrderStatus.ON_HOLD, OrderStatus.CANCELLED}
    ),
    OrderStatus.PAYMENT_PROCESSING: frozenset(
        {OrderStatus.PENDING_PAYMENT, OrderStatus.AWAITING_DEPOSIT, OrderStatus.PAID,
         OrderStatus.ON_HOLD, OrderStatus.CANCELLED}
    ),
    OrderStatus.AWAITING_DEPOSIT: frozenset(
        {OrderStatus.PAID, OrderStatus.ON_HOLD, OrderStatus.PENDING_PAYMENT,
         OrderStatus.CANCELLED}
    ),
    OrderStatus.ON_HOLD: frozenset(
        {OrderStatus.PAID, OrderStatus.PENDING_PAYMENT, OrderStatus.CANCELLED}),
    OrderStatus.PAID: frozenset({OrderStatus.SHIPPED, OrderStatus.DELIVERED} | _MONEY_BACK),
    OrderStatus.SHIPPED: frozenset({OrderStatus.DELIVERED} | _MONEY_BACK),
    OrderStatus.DELIVERED: _MONEY_BACK,
    OrderStatus.PARTIALLY_REFUNDED: frozenset(
        {OrderStatus.PAID, OrderStatus.SHIPPED, OrderStatus.DELIVERED} | _MONEY_BACK),
    OrderStatus.REFUNDED: _MONEY_BACK,
    OrderStatus.DISPUTED: frozenset(
        {OrderStatus.PAID, OrderStatus.SHIPPED, OrderStatus.DELIVERED} | _MONEY_BACK),
    # A lost chargeback is a fact no refund undoes; only another dispute moves the order on.
    OrderStatus.DISPUTE_LOST: frozenset({OrderStatus.DISPUTED}),
    OrderStatus.CANCELLED: frozenset(),
}
# Statuses of an order whose money was taken: refunds and disputes move it from here.
SETTLED = frozenset({OrderStatus.PAID, OrderStatus.SHIPPED, OrderStatus.DELIVERED}
                    | _MONEY_BACK)

# Shipment statuses that mean a parcel has left the seller.
_ON_THE_WAY = frozenset(
    {"picked_up", "in_transit", "out_for_delivery", "exception", "delivered", "returned"})

MAX_TOTAL_MINOR = 10**12
MAX_LINES = 100
MAX_QUANTITY = 1000


def clean_text(value: str, *, limit: int = 500) -> str:
    """Free text as we keep it: trimmed, bounded, and with any card number removed."""
    return redact_card_numbers(value.strip())[:limit]


@dataclass(frozen=True)
class OrderLine:
    sku: str
    title: str
    seller_id: str
    quantity: int
    unit_price: Money

    def __post_init__(self) -> None:
        if not 1 <= self.quantity <= MAX_QUANTITY:
            raise DomainError(f"quantity must be between 1 and {MAX_QUANTITY}")
        if self.unit_price.amount < 0:
            raise DomainError("a unit price cannot be negative")
        object.__setattr__(self, "title", clean_text(self.title, limit=200))
        object.__setattr__(self, "sku", clean_text(self.sku, limit=64))
        object.__setattr__(self, "seller_id", clean_text(self.seller_id, limit=64))

    @property
    def total(self) -> Money:
        return self.unit_price * self.quantity


@dataclass(frozen=True)
class ShippingAddress:
    recipient: str
    line1: str
    line2: str
    city: str
    postal_code: str
    country: str  # ISO 3166-1 alpha-2

    def __post_init__(self) -> None:
        for name in ("recipient", "line1", "line2", "city", "postal_code"):
            object.__setattr__(self, name, clean_text(getattr(self, name), limit=200))
        if len(self.country) != 2 or not self.country.isalpha():
            raise DomainError("country must be an ISO 3166-1 alpha-2 code such as KR or US")
        object.__setattr__(self, "country", self.country.upper())


@dataclass
class Order:
    id: str
    customer_id: str
    currency: str
    lines: list[OrderLine]
    shipping_address: ShippingAddress
    carrier: str
    note: str = ""
    status: OrderStatus = OrderStatus.PENDING_PAYMENT
    created_at: datetime | None = None
    held_for_review: bool = False
    events: list[Event] = field(default_factory=list, repr=False, compare=False)

    @classmethod
    def place(
        cls,
        *,
        order_id: str,
        customer_id: str,
        currency: str,
        lines: list[OrderLine],
        shipping_address: ShippingAddress,
        carrier: str,
        note: str,
        now: datetime,
    ) -> Order:
        if not lines:
            raise DomainError("an order needs at least one line")
        if len(lines) > MAX_LINES:
            raise DomainError(f"an order has at most {MAX_LINES} lines")
        currency = currency.upper()
        for line in lines:
            if line.unit_price.currency != currency:
                raise DomainError(f"every line must be priced in the order currency {currency}")
        order = cls(
            id=order_id,
            customer_id=customer_id,
            currency=currency,
            lines=lines,
            shipping_address=shipping_address,
            carrier=carrier,
            note=clean_text(note, limit=1000),
            created_at=now,
        )
        # A zero total would wait forever for money that never comes, and a total of 10^12
        # minor units or more is no real basket (and could read as a card number).
        if order.total.amount <= 0:
            raise DomainError("an order must total more than zero: free items are added to a "
                              "paid order, not ordered alone")
        if order.total.amount >= MAX_TOTAL_MINOR:
            raise DomainError(f"an order totals less than {MAX_TOTAL_MINOR} minor units; "
                              "split it into several orders")
        order.events.append(OrderPlaced(order_id, customer_id, order.total.amount, currency))
        return order

    @property
    def total(self) -> Money:
        total = Money.zero(self.currency)
        for line in self.lines:
            total = total + line.total
        return total

    @property
    def country(self) -> str:
        return self.shipping_address.country

    @property
    def sellers(self) -> list[str]:
        return sorted({line.seller_id for line in self.lines})

    def lines_of(self, seller_id: str) -> list[OrderLine]:
        return [line for line in self.lines if line.seller_id == seller_id]

    @property
    def is_settled(self) -> bool:
        return self.status in SETTLED

    def can_pay(self) -> bool:
        return self.status in (OrderStatus.PENDING_PAYMENT,)

    def awaits_payment(self) -> bool:
        """Not paid yet and not cancelled: a successful charge now pays this order."""
        return self.status in (OrderStatus.PENDING_PAYMENT, OrderStatus.PAYMENT_PROCESSING,
                               OrderStatus.AWAITING_DEPOSIT)

    def _move(self, target: OrderStatus) -> bool:
        """Move to `target`; False when already there (idempotent re-delivery)."""
        if self.status == target:
            return False
        if target not in _ALLOWED[self.status]:
            raise InvalidTransition(f"order {self.id} cannot go from {self.status} to {target}")
        self.status = target
        return True

    def start_payment(self) -> None:
        if not self.can_pay():
            raise InvalidTransition(
                f"order {self.id} is {self.status}; only an order pending payment can be paid"
            )
        self._move(OrderStatus.PAYMENT_PROCESSING)

    def await_deposit(self) -> None:
        self._move(OrderStatus.AWAITING_DEPOSIT)

    def payment_failed(self) -> None:
        """A failed attempt (or a released authorization) lets the customer pay again."""
        if self.status in (OrderStatus.PAYMENT_PROCESSING, OrderStatus.AWAITING_DEPOSIT,
                           OrderStatus.ON_HOLD):
            self._move(OrderStatus.PENDING_PAYMENT)

    def hold_for_review(self) -> None:
        """The fraud screen wants a human to look: the money may come, nothing ships."""
        self.held_for_review = True

    def mark_paid(self, *, captured: bool = True) -> None:
        """The money is secured (captured, or authorized for a held order). An order whose
        money is only authorized waits on hold even once approved: nothing ships before the
        capture is confirmed (`capture_confirmed`)."""
        if self.status in SETTLED or self.status == OrderStatus.ON_HOLD:
            return  # a late or repeated confirmation changes nothing
        if self.held_for_review or not captured:
            self._move(OrderStatus.ON_HOLD)
        elif self._move(OrderStatus.PAID):
            self.events.append(OrderPaid(self.id, self.customer_id))

    def approve(self, *, money_taken: bool) -> None:
        """A reviewer cleared the order: it is paid (and ships) once its money is taken; an
        authorization still has to be captured."""
        if not self.held_for_review:
            raise InvalidTransition(f"order {self.id} is not waiting for a review")
        self.held_for_review = False
        if money_taken:
            self.capture_confirmed()

    def capture_confirmed(self) -> None:
        """The held money was taken after an approval: fulfilment may start."""
        if (self.status == OrderStatus.ON_HOLD and not self.held_for_review
                and self._move(OrderStatus.PAID)):
            self.events.append(OrderPaid(self.id, self.customer_id))

    def reject(self) -> None:
        """A reviewer refused the order: it is cancelled (its payments are released)."""
        if not self.held_for_review:
            raise InvalidTransition(f"order {self.id} is not waiting for a review")
        self.held_for_review = False
        self._move(OrderStatus.CANCELLED)

    def cancel(self) -> None:
        self._move(OrderStatus.CANCELLED)

    def follow_money(self, *, captured: int, refunded: int, disputed: int,
                     shipment_statuses: list[str], dispute_lost: int = 0) -> None:
        """Follow refunds and chargebacks of a settled order.

        `refunded` counts money we gave back; `dispute_lost` the money the card network took
        back in chargebacks we lost (the order then shows `dispute_lost`, not `refunded`:
        the goods may be gone and nobody chose to give the money back). A dispute that ends
        in our favour brings the order back to where its shipments say it is.
        """
        if self.status not in SETTLED or captured <= 0:
            return
        if disputed:
            self._move(OrderStatus.DISPUTED)
        elif dispute_lost:
            self._move(OrderStatus.DISPUTE_LOST)
        elif refunded >= captured:
            self._move(OrderStatus.REFUNDED)
        elif refunded:
            self._move(OrderStatus.PARTIALLY_REFUNDED)
        elif self.status in _MONEY_BACK:
            self._move(OrderStatus.PAID)
            self.shipments_progressed(shipment_statuses)

    def shipments_progressed(self, shipment_statuses: list[str]) -> None:
        """Follow the shipments: shipped once one left, delivered once all arrived."""
        if self.status not in (OrderStatus.PAID, OrderStatus.SHIPPED):
            return
        if shipment_statuses and all(s == "delivered" for s in shipment_statuses):
            self._move(OrderStatus.DELIVERED)
            self.events.append(OrderDelivered(self.id, self.customer_id))
        elif any(s in _ON_THE_WAY for s in shipment_statuses):
            self._move(OrderStatus.SHIPPED)
