"""Placing and reading orders; a customer only ever sees their own."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from application.bus import publish
from application.payments.views import money_summary, payment_view
from application.ports import Clock, TaskQueue, UnitOfWorkFactory
from application.transactions import commit_and_dispatch, new_id
from domain.errors import DomainError, NotFound
from domain.money import Money
from domain.orders import Order, OrderLine, ShippingAddress
from domain.payments import Payment
from domain.shipments import Shipment
from domain.shipping_options import ShippingCatalogue, country_code

MAX_PAGE = 100


@dataclass(frozen=True)
class LineInput:
    sku: str
    title: str
    seller_id: str
    quantity: int
    unit_price: int  # minor units


@dataclass(frozen=True)
class PlaceOrder:
    customer_id: str
    currency: str
    lines: list[LineInput]
    shipping_address: dict[str, str]
    carrier: str
    note: str = ""
    service: str = ""  # the carrier's cheapest service to the address when empty


class Ordering:
    def __init__(
        self, uow: UnitOfWorkFactory, clock: Clock, queue: TaskQueue,
        shipping: ShippingCatalogue,
    ) -> None:
        self._uow, self._clock, self._queue, self._shipping = uow, clock, queue, shipping

    def shipping_options(self, country: str, currency: str) -> dict[str, Any]:
        """What the customer may choose for an address in `country`, paying in `currency`."""
        address_country = country_code(country)
        options = self._shipping.options(address_country, currency)
        return {"country": address_country, "currency": currency.upper(),
                "options": [option.view() for option in options],
                "countries_served": self._shipping.countries()}

    async def place(self, command: PlaceOrder) -> Order:
        address = ShippingAddress(**command.shipping_address)
        option = self._shipping.choose(address.country, command.currency, command.carrier,
                                       command.service)
        lines = [
            OrderLine(line.sku, line.title, line.seller_id, line.quantity,
                      Money(line.unit_price, command.currency))
            for line in command.lines
        ]
        order = Order.place(
            order_id=new_id("ord"), customer_id=command.customer_id, currency=command.currency,
            lines=lines, shipping_address=address, carrier=option.carrier,
            service=option.service, shipping_fee=option.fee.amount if option.fee else 0,
            note=command.note, now=self._clock.now(),
        )
        async with self._uow() as uow:
            await uow.orders.add(order)
            await publish(uow, order.events)
            await commit_and_dispatch(uow, self._queue)
        return order

    async def get(self, customer_id: str, order_id: str, language: str = "en") -> dict[str, Any]:
        async with self._uow(snapshot=True) as uow:  # the order and its payments of one moment
            order = await uow.orders.get(order_id)
            if order is None or order.customer_id != customer_id:
                raise NotFound(f"order {order_id} not found")
            payments = await uow.payments.of_order(order_id)
            shipments = await uow.shipments.of_order(order_id)
        return order_view(order, payments=payments, shipments=shipments, language=language)

    async def list(
        self, customer_id: str, limit: int = 20, cursor: str | None = None
    ) -> dict[str, Any]:
        """A page of the customer's orders, newest first, and the cursor of the next page."""
        if not 1 <= limit <= MAX_PAGE:
            raise DomainError(f"limit must be between 1 and {MAX_PAGE}")
        async with self._uow(read_only=True) as uow:
            orders = await uow.orders.of_customer(customer_id, limit + 1, cursor)
        page = orders[:limit]
        last = page[-1].created_at if len(orders) > limit else None
        return {
            "orders": [order_view(order) for order in page],
            # RFC 3339 with "Z": nothing in it needs escaping in a query string
            "next_cursor": last.isoformat().replace("+00:00", "Z") if last else None,
        }


def order_view(order: Order, *, payments: list[Payment] | None = None,
               shipments: list[Shipment] | None = None, language: str = "en") -> dict[str, Any]:
    view: dict[str, Any] = {
        "id": order.id,
        "status": order.status.value,
        "currency": order.currency,
        "total": order.total.amount,
        "total_display": str(order.total),
        "carrier": order.carrier,
        "service": order.service,
        "shipping_fee": order.shipping_fee,
        "note": order.note,
        "created_at": order.created_at.isoformat() if order.created_at else None,
        "lines": [
            {"sku": line.sku, "title": line.title, "seller_id": line.seller_id,
             "quantity": line.quantity, "unit_price": line.unit_price.amount,
             "line_total": line.total.amount}
            for line in order.lines
        ],
        "shipping_address": {
            "recipient": order.shipping_address.recipient,
            "line1": order.shipping_address.line1,
            "line2": order.shipping_address.line2,
            "city": order.shipping_address.city,
            "postal_code": order.shipping_address.postal_code,
            "country": order.shipping_address.country,
        },
    }
    if payments is not None:
        view["payments"] = [payment_view(p, language) for p in payments]
        view["money"] = money_summary(order.currency, payments)
    if order.held_for_review:
        view["review"] = "pending"
    if shipments is not None:
        view["shipments"] = [shipment_view(s) for s in shipments]
    return view


def shipment_view(shipment: Shipment) -> dict[str, Any]:
    """A parcel as the customer and the operators see it; `lines` empty: all of its seller's."""
    return {"id": shipment.id, "seller_id": shipment.seller_id, "carrier": shipment.carrier,
            "status": shipment.status.value, "tracking_number": shipment.tracking_number,
            "lines": [{"sku": sku, "quantity": n} for sku, n in sorted(shipment.lines.items())]}
