"""The order aggregate: lines from one or more sellers, totals, and its status machine."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from domain.errors import DomainError, InvalidTransition
from domain.events import Event, OrderDelivered, OrderPaid, OrderPlaced
from domain.money import Money
from domain.redaction import redact_card_numbers
from domain.shipments import LEFT, Shipment, ShipmentStatus
from domain.shipping_options import country_code


class OrderStatus(StrEnum):
    PENDING_PAYMENT = "pending_payment"
    PAYMENT_PROCESSING = "payment_processing"
    AWAITING_DEPOSIT = "awaiting_deposit"
    ON_HOLD = "on_hold"  # paid (or authorized) but held for a fraud review: nothing ships
    PAID = "paid"
    PARTIALLY_SHIPPED = "partially_shipped"  # some of its parcels left, some wait at a seller
    SHIPPED = "shipped"
    PARTIALLY_DELIVERED = "partially_delivered"
    DELIVERED = "delivered"
    PARTIALLY_REFUNDED = "partially_refunded"
    REFUNDED = "refunded"
    DISPUTED = "disputed"
    DISPUTE_LOST = "dispute_lost"  # the card network took money back in a chargeback
    CANCELLED = "cancelled"


_MONEY_BACK = frozenset(
    {OrderStatus.PARTIALLY_REFUNDED, OrderStatus.REFUNDED, OrderStatus.DISPUTED,
     OrderStatus.DISPUTE_LOST})
# A paid order on its way to the customer, stage by stage.
FULFILMENT = frozenset({OrderStatus.PAID, OrderStatus.PARTIALLY_SHIPPED, OrderStatus.SHIPPED,
                        OrderStatus.PARTIALLY_DELIVERED, OrderStatus.DELIVERED})
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
    # Between these the order follows its parcels, whichever way their news moves it.
    **{stage: (FULFILMENT - {stage}) | _MONEY_BACK for stage in FULFILMENT},
    OrderStatus.PARTIALLY_REFUNDED: FULFILMENT | _MONEY_BACK,
    OrderStatus.REFUNDED: _MONEY_BACK,
    OrderStatus.DISPUTED: FULFILMENT | _MONEY_BACK,
    # A lost chargeback is a fact no refund undoes; only another dispute moves the order on.
    OrderStatus.DISPUTE_LOST: frozenset({OrderStatus.DISPUTED}),
    OrderStatus.CANCELLED: frozenset(),
}
# Statuses of an order whose money was taken: refunds and disputes move it from here.
SETTLED = FULFILMENT | _MONEY_BACK

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
        object.__setattr__(self, "country", country_code(self.country))


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
    service: str = ""
    shipping_fee: int = 0  # minor units of the order's currency, for the chosen delivery
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
        service: str = "",
        shipping_fee: int = 0,
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
            service=service,
            shipping_fee=shipping_fee,
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
        total = Money(self.shipping_fee, self.currency)
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
                     shipments: Sequence[Shipment] = (), dispute_lost: int = 0) -> None:
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
            self.shipments_progressed(shipments)

    def ordered_quantities(self) -> dict[tuple[str, str], int]:
        """How many of each SKU each seller owes the customer."""
        wanted: dict[tuple[str, str], int] = {}
        for line in self.lines:
            key = (line.seller_id, line.sku)
            wanted[key] = wanted.get(key, 0) + line.quantity
        return wanted

    def unshipped(self, seller_id: str, shipments: Sequence[Shipment]) -> dict[str, int]:
        """What `seller_id` has not put in a parcel yet (a backorder, or a split not sent)."""
        owed = {sku: n for (seller, sku), n in self.ordered_quantities().items()
                if seller == seller_id}
        for shipment in shipments:
            if shipment.seller_id == seller_id:
                for sku, n in shipment.quantities(owed).items():
                    owed[sku] = owed.get(sku, 0) - n
        return {sku: n for sku, n in owed.items() if n > 0}

    def fulfilment_stage(self, shipments: Sequence[Shipment]) -> OrderStatus:
        """Where the goods are, from every parcel: a function of the parcels' states alone,
        so the order ends the same whatever order their tracking news came in."""
        wanted = self.ordered_quantities()
        left = dict.fromkeys(wanted, 0)
        arrived = dict.fromkeys(wanted, 0)
        for shipment in shipments:
            owed = {sku: n for (seller, sku), n in wanted.items() if seller == shipment.seller_id}
            for sku, n in shipment.quantities(owed).items():
                key = (shipment.seller_id, sku)
                if key in wanted and shipment.status in LEFT:
                    left[key] += n
                    if shipment.status == ShipmentStatus.DELIVERED:
                        arrived[key] += n
        if all(arrived[key] >= n for key, n in wanted.items()):
            return OrderStatus.DELIVERED
        if any(arrived.values()):
            return OrderStatus.PARTIALLY_DELIVERED
        if all(left[key] >= n for key, n in wanted.items()):
            return OrderStatus.SHIPPED
        return OrderStatus.PARTIALLY_SHIPPED if any(left.values()) else OrderStatus.PAID

    def shipments_progressed(self, shipments: Sequence[Shipment]) -> None:
        """Follow the parcels: partially shipped, shipped, partially delivered, delivered."""
        if self.status not in FULFILMENT:
            return
        if self._move(self.fulfilment_stage(shipments)) and self.status == OrderStatus.DELIVERED:
            self.events.append(OrderDelivered(self.id, self.customer_id))

    def correct_shipping_address(self, address: ShippingAddress) -> None:
        """The customer corrected where the goods go: what ships from now on goes there
        (parcels already delivered stay where they were). Another country is another carrier
        contract and another customs declaration, so it is a new order, not a correction."""
        if self.status in (OrderStatus.DELIVERED, OrderStatus.REFUNDED, OrderStatus.CANCELLED,
                           OrderStatus.DISPUTE_LOST):
            raise InvalidTransition(f"order {self.id} is {self.status}; its shipping address "
                                    "can no longer change")
        if address.country != self.shipping_address.country:
            raise DomainError(f"the corrected address must stay in {self.country}; to ship "
                              "to another country, place a new order")
        self.shipping_address = address
