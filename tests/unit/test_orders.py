"""The order aggregate: totals, validation, card-number scrubbing and its status machine."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from domain.errors import DomainError, InvalidTransition
from domain.events import OrderDelivered, OrderPaid, OrderPlaced
from domain.money import Money
from domain.orders import (
    MAX_LINES,
    MAX_QUANTITY,
    Order,
    OrderLine,
    OrderStatus,
    ShippingAddress,
)
from domain.redaction import CARD_PLACEHOLDER, luhn_valid
from domain.shipments import Shipment, ShipmentStatus

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
CARDS = ["4242424242424242", "4242 4242 4242 4242", "4242-4242-4242-4242"]


def line(
    *, sku: str = "SKU-1", title: str = "Mug", seller: str = "seller-a", quantity: int = 1,
    price: int = 1000, currency: str = "KRW",
) -> OrderLine:
    return OrderLine(sku, title, seller, quantity, Money(price, currency))


def address(**overrides: str) -> ShippingAddress:
    fields = {
        "recipient": "Kim Minji", "line1": "12 Teheran-ro", "line2": "Apt 301",
        "city": "Seoul", "postal_code": "06234", "country": "kr",
    }
    fields.update(overrides)
    return ShippingAddress(**fields)


def place(lines: list[OrderLine] | None = None, *, currency: str = "KRW", note: str = "",
          shipping_address: ShippingAddress | None = None) -> Order:
    return Order.place(
        order_id="o-1", customer_id="c-1", currency=currency,
        lines=[line()] if lines is None else lines,
        shipping_address=shipping_address or address(), carrier="sandbox-carrier",
        note=note, now=NOW,
    )


def parcel(status: str, seller: str = "seller-a", **lines: int) -> Shipment:
    """A parcel of `seller` at `status`, holding `lines` (all of the seller's lines if none)."""
    return Shipment(f"shp-{status}-{seller}", "o-1", seller, "sandbox-carrier",
                    status=ShipmentStatus(status), tracking_number="T1", lines=lines)


def paid_order(lines: list[OrderLine] | None = None) -> Order:
    order = place(lines)
    order.start_payment()
    order.mark_paid()
    return order


# --- placing an order -------------------------------------------------------------------------

def test_total_sums_every_line() -> None:
    order = place([
        line(quantity=2, price=1500),
        line(sku="SKU-2", seller="seller-b", quantity=3, price=700),
    ])
    assert order.total == Money(2 * 1500 + 3 * 700, "KRW")
    assert order.lines[0].total == Money(3000, "KRW")


def test_place_records_order_placed_and_starts_pending_payment() -> None:
    order = place([line(quantity=2, price=1500)], currency="krw")
    assert order.status == OrderStatus.PENDING_PAYMENT
    assert order.currency == "KRW"
    assert order.created_at == NOW
    assert order.country == "KR"
    assert order.events == [OrderPlaced("o-1", "c-1", 3000, "KRW")]


def test_sellers_and_lines_of() -> None:
    a, b, a2 = line(seller="seller-b"), line(seller="seller-a"), line(sku="X", seller="seller-b")
    order = place([a, b, a2])
    assert order.sellers == ["seller-a", "seller-b"]
    assert order.lines_of("seller-b") == [a, a2]
    assert order.lines_of("nobody") == []


def test_line_in_another_currency_is_rejected() -> None:
    with pytest.raises(DomainError, match="order currency KRW"):
        place([line(), line(price=999, currency="USD")])


def test_empty_order_is_rejected() -> None:
    with pytest.raises(DomainError, match="at least one line"):
        place([])


def test_too_many_lines_are_rejected() -> None:
    place([line(sku=f"S{i}") for i in range(MAX_LINES)])
    with pytest.raises(DomainError, match="at most"):
        place([line(sku=f"S{i}") for i in range(MAX_LINES + 1)])


@pytest.mark.parametrize("quantity", [1, 2, MAX_QUANTITY])
def test_quantity_within_bounds(quantity: int) -> None:
    assert line(quantity=quantity).quantity == quantity


@pytest.mark.parametrize("quantity", [0, -1, MAX_QUANTITY + 1])
def test_quantity_out_of_bounds(quantity: int) -> None:
    with pytest.raises(DomainError, match="quantity"):
        line(quantity=quantity)


def test_negative_unit_price_is_rejected() -> None:
    with pytest.raises(DomainError, match="negative"):
        line(price=-1)


@pytest.mark.parametrize("country", ["KOR", "K", "", "1A"])
def test_country_must_be_alpha_2(country: str) -> None:
    with pytest.raises(DomainError, match="alpha-2"):
        address(country=country)


# --- card numbers typed in the wrong place ----------------------------------------------------

@pytest.mark.parametrize("card", CARDS)
def test_card_number_in_note_is_replaced(card: str) -> None:
    order = place(note=f"  leave at door, card {card}  ")
    assert order.note == f"leave at door, card {CARD_PLACEHOLDER}"


@pytest.mark.parametrize("card", CARDS)
def test_card_number_in_title_and_sku_is_replaced(card: str) -> None:
    item = line(sku=card, title=f"Gift for {card}")
    assert item.sku == CARD_PLACEHOLDER
    assert item.title == f"Gift for {CARD_PLACEHOLDER}"


@pytest.mark.parametrize("card", CARDS)
@pytest.mark.parametrize("field", ["recipient", "line1", "line2", "city", "postal_code"])
def test_card_number_in_any_address_field_is_replaced(field: str, card: str) -> None:
    shipped_to = address(**{field: f"x {card} y"})
    assert getattr(shipped_to, field) == f"x {CARD_PLACEHOLDER} y"
    assert "4242" not in repr(shipped_to)


@pytest.mark.parametrize(
    "text", ["order 1234567890123", "call 010-1234-5678", "ref 4242424242424241"]
)
def test_non_luhn_digit_runs_are_kept(text: str) -> None:
    digits = "".join(ch for ch in text if ch.isdigit())
    assert not luhn_valid(digits)
    order = place(note=text, shipping_address=address(line2=text))
    assert order.note == text
    assert order.shipping_address.line2 == text
    assert line(title=text).title == text


def test_free_text_is_trimmed_and_bounded() -> None:
    assert place(note="x" * 5000).note == "x" * 1000
    assert line(sku="S" * 100).sku == "S" * 64
    assert line(title="  Mug  ").title == "Mug"


# --- status machine ---------------------------------------------------------------------------

def test_happy_path_to_delivered() -> None:
    order = place()
    order.start_payment()
    assert order.status == OrderStatus.PAYMENT_PROCESSING
    order.mark_paid()
    assert order.status == OrderStatus.PAID
    order.shipments_progressed([parcel("in_transit")])
    assert order.status == OrderStatus.SHIPPED
    order.shipments_progressed([parcel("delivered")])
    assert order.status == OrderStatus.DELIVERED
    assert [type(e) for e in order.events] == [OrderPlaced, OrderPaid, OrderDelivered]
    assert order.events[-1] == OrderDelivered("o-1", "c-1")


def test_mark_paid_twice_emits_order_paid_once() -> None:
    order = place()
    order.start_payment()
    order.mark_paid()
    order.mark_paid()
    assert order.status == OrderStatus.PAID
    assert order.events.count(OrderPaid("o-1", "c-1")) == 1


def test_payment_failed_returns_to_pending_payment() -> None:
    order = place()
    order.start_payment()
    order.payment_failed()
    assert order.status == OrderStatus.PENDING_PAYMENT
    assert order.can_pay()
    order.start_payment()  # the customer can try again
    assert order.status == OrderStatus.PAYMENT_PROCESSING


def test_payment_failed_while_awaiting_deposit_returns_to_pending_payment() -> None:
    order = place()
    order.start_payment()
    order.await_deposit()
    assert order.status == OrderStatus.AWAITING_DEPOSIT
    order.payment_failed()
    assert order.status == OrderStatus.PENDING_PAYMENT


def test_late_payment_failure_does_not_undo_paid() -> None:
    order = paid_order()
    order.payment_failed()
    assert order.status == OrderStatus.PAID


Step = Callable[[Order], object]
PAY: list[Step] = [Order.start_payment, Order.mark_paid]


@pytest.mark.parametrize(("done", "refused", "status"), [
    pytest.param([Order.start_payment], [Order.start_payment],
                 OrderStatus.PAYMENT_PROCESSING, id="start_payment_twice"),
    pytest.param(PAY, [Order.start_payment, Order.cancel], OrderStatus.PAID,
                 id="paid_order_cannot_be_paid_again_or_cancelled"),
    pytest.param([Order.cancel], [Order.start_payment, Order.mark_paid],
                 OrderStatus.CANCELLED, id="cancelled_order_cannot_be_paid"),
])
def test_a_refused_transition_changes_nothing(done: list[Step], refused: list[Step],
                                              status: OrderStatus) -> None:
    order = place()
    for step in done:
        step(order)
    assert order.status == status
    for step in refused:
        with pytest.raises(InvalidTransition):
            step(order)
    assert order.status == status
    paid_events = sum(isinstance(e, OrderPaid) for e in order.events)
    assert paid_events == (1 if status == OrderStatus.PAID else 0)


@pytest.mark.parametrize(("shipped_as", "status"), [
    pytest.param("in_transit", OrderStatus.SHIPPED,
                 id="late_confirmation_after_shipping_changes_nothing"),
    pytest.param("delivered", OrderStatus.DELIVERED, id="delivered_stays_delivered"),
])
def test_news_after_the_parcels_left_changes_nothing(shipped_as: str,
                                                     status: OrderStatus) -> None:
    order = paid_order()
    order.shipments_progressed([parcel(shipped_as)])
    assert order.status == status
    with pytest.raises(InvalidTransition):
        order.cancel()
    order.mark_paid()  # a late confirmation
    assert order.status == status
    assert sum(isinstance(e, OrderPaid) for e in order.events) == 1
    delivered = sum(isinstance(e, OrderDelivered) for e in order.events)
    assert delivered == (1 if status == OrderStatus.DELIVERED else 0)


def test_an_invalid_transition_names_the_order() -> None:
    order = place()
    order.cancel()
    with pytest.raises(InvalidTransition) as raised:
        order.start_payment()
    assert raised.value.code == "invalid-transition"
    assert "o-1" in raised.value.detail


TWO_SELLERS = [line(sku="MUG", quantity=3), line(sku="TEA", seller="seller-b")]


@pytest.mark.parametrize("steps", [
    pytest.param([([parcel("delivered"), parcel("in_transit", "seller-b")],
                   OrderStatus.PARTIALLY_DELIVERED),
                  ([parcel("delivered"), parcel("delivered", "seller-b")],
                   OrderStatus.DELIVERED)],
                 id="delivered_only_when_every_parcel_is_delivered"),
    pytest.param([([parcel("created"), parcel("created", "seller-b")], OrderStatus.PAID),
                  ([], OrderStatus.PAID), ([parcel("requested")], OrderStatus.PAID)],
                 id="parcels_not_yet_left_keep_the_order_paid"),
    pytest.param([([parcel("in_transit", MUG=2)], OrderStatus.PARTIALLY_SHIPPED),
                  ([parcel("in_transit", MUG=2), parcel("in_transit", "seller-b")],
                   OrderStatus.PARTIALLY_SHIPPED),
                  ([parcel("in_transit", MUG=2), parcel("in_transit", "seller-b"),
                    parcel("picked_up", "seller-a", MUG=1)], OrderStatus.SHIPPED),
                  ([parcel("delivered", MUG=2), parcel("in_transit", "seller-b"),
                    parcel("exception", "seller-a", MUG=1)], OrderStatus.PARTIALLY_DELIVERED)],
                 id="a_backorder_keeps_the_order_partially_shipped"),
    pytest.param([([parcel("returned"), parcel("delivered", "seller-b")],
                   OrderStatus.PARTIALLY_DELIVERED),
                  ([parcel("returned"), parcel("delivered", "seller-b"),
                    parcel("delivered", "seller-a", MUG=3)], OrderStatus.DELIVERED)],
                 id="a_reshipment_delivers_what_came_back"),
])
def test_a_paid_order_follows_its_parcels(
        steps: list[tuple[list[Shipment], OrderStatus]]) -> None:
    """After each step, the order's status; it says it was delivered once, and only then."""
    order = paid_order(TWO_SELLERS)
    for shipments, status in steps:
        order.shipments_progressed(shipments)
        assert order.status == status
        delivered = sum(isinstance(e, OrderDelivered) for e in order.events)
        assert delivered == (1 if status == OrderStatus.DELIVERED else 0)


def test_what_a_seller_has_not_sent_yet() -> None:
    order = paid_order(TWO_SELLERS)
    assert order.unshipped("seller-a", []) == {"MUG": 3}
    assert order.unshipped("seller-a", [parcel("created", MUG=2)]) == {"MUG": 1}
    assert order.unshipped("seller-a", [parcel("created", MUG=2),
                                        parcel("created", "seller-b")]) == {"MUG": 1}
    assert order.unshipped("seller-b", [parcel("requested", "seller-b")]) == {}


def test_shipments_progressed_is_ignored_before_payment() -> None:
    order = place()
    order.shipments_progressed([parcel("delivered")])
    assert order.status == OrderStatus.PENDING_PAYMENT
