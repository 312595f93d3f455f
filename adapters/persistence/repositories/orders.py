"""Orders and their lines in and out of their tables."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from piccolo.custom_types import Combinable

from adapters.persistence import raw
from adapters.persistence import tables as t
from adapters.persistence.repositories._rows import _at, _dump
from adapters.persistence.repositories.payments import OF_ORDER_PAID_BY_HERE
from adapters.persistence.repositories.read_ahead import ReadAhead
from domain.money import Money
from domain.orders import FULFILMENT, Order, OrderLine, OrderStatus, ShippingAddress

# Orders whose money was taken and kept, wherever their goods are.
_MONEY_TAKEN = sorted({status.value for status in FULFILMENT} | {"partially_refunded"})


def _address(address: ShippingAddress) -> str:
    return _dump({"recipient": address.recipient, "line1": address.line1,
                  "line2": address.line2, "city": address.city,
                  "postal_code": address.postal_code, "country": address.country})


class OrderRepository:
    def __init__(self, read_ahead: ReadAhead | None = None) -> None:
        self._read_ahead = ReadAhead() if read_ahead is None else read_ahead
        # Orders this unit of work holds locked, as it last saw them: nobody else changes
        # them until it ends, so reading one again (an event handler after the use case)
        # needs no statement.
        self._held: dict[str, Order] = {}

    def _hold(self, order: Order | None) -> Order | None:
        if order is not None:
            self._held[order.id] = order
        return order

    async def lock(self, order_id: str) -> Order | None:
        self._read_ahead.forget()
        query = t.Order.select().where(t.Order.id == order_id)
        # SQLite's IMMEDIATE transactions already run one writer at a time.
        if t.Order._meta.db.engine_type == "postgres":
            query = query.lock_rows("UPDATE")
        rows = await query
        return self._hold(self.from_row(rows[0]) if rows else None)

    async def lock_for_payment(self, payment_id: str) -> Order | None:
        self._read_ahead.forget()
        paid_by = t.Payment.select(t.Payment.order_id).where(t.Payment.id == payment_id)
        query = t.Order.select().where(t.Order.id.is_in(paid_by))
        if t.Order._meta.db.engine_type == "postgres":
            query = query.lock_rows("UPDATE", of=(t.Order,))
        else:  # the order's payments come in the same trip, for payments.of_order
            await raw.read_later(OF_ORDER_PAID_BY_HERE, payment_id,
                                 then=self._read_ahead.keep_payments)
        rows = await query
        return self._hold(self.from_row(rows[0]) if rows else None)

    @staticmethod
    def _values(order: Order) -> dict[Any, Any]:
        return {
            t.Order.status: order.status.value,
            t.Order.held_for_review: order.held_for_review,
            # A corrected address is kept for what ships next (domain.orders).
            t.Order.shipping_address: _address(order.shipping_address),
        }

    async def add(self, order: Order) -> None:
        self._read_ahead.customer_orders.pop(order.customer_id, None)  # older than this
        address = order.shipping_address
        await raw.insert(t.Order(  # gathered on PostgreSQL (raw.py)
            id=order.id, customer_id=order.customer_id, currency=order.currency,
            status=order.status.value, carrier=order.carrier, note=order.note,
            lines=_dump([
                {"sku": line.sku, "title": line.title, "seller_id": line.seller_id,
                 "quantity": line.quantity, "unit_price": line.unit_price.amount}
                for line in order.lines
            ]),
            shipping_address=_dump({
                "recipient": address.recipient, "line1": address.line1, "line2": address.line2,
                "city": address.city, "postal_code": address.postal_code,
                "country": address.country,
            }),
            created_at=order.created_at, total=order.total.amount,
            held_for_review=order.held_for_review, service=order.service,
            shipping_fee=order.shipping_fee,
        ))

    @classmethod
    async def read(cls, order_id: str) -> Order | None:
        """The order as committed, outside any unit of work's memory of it."""
        row = await t.Order.select().where(t.Order.id == order_id).first()
        return cls.from_row(row) if row else None

    @staticmethod
    def from_row(row: dict[str, Any]) -> Order:
        """The order a row of its table holds (read alone, or with another table's)."""
        currency = row["currency"]
        return Order(
            id=row["id"], customer_id=row["customer_id"], currency=currency,
            lines=[
                OrderLine(line["sku"], line["title"], line["seller_id"], line["quantity"],
                          Money(line["unit_price"], currency))
                for line in json.loads(row["lines"])
            ],
            shipping_address=ShippingAddress(**json.loads(row["shipping_address"])),
            carrier=row["carrier"], note=row["note"], status=OrderStatus(row["status"]),
            created_at=_at(row["created_at"]), held_for_review=bool(row["held_for_review"]),
            service=row["service"], shipping_fee=int(row["shipping_fee"]),
        )

    async def get(self, order_id: str) -> Order | None:
        if order_id in self._held:
            return self._held[order_id]
        return await self.read(order_id)

    async def save(self, order: Order) -> None:
        self._read_ahead.customer_orders.pop(order.customer_id, None)  # older than this
        await raw.update(t.Order, self._values(order), order.id)  # gathered on PostgreSQL
        if order.id in self._held:
            self._held[order.id] = order

    async def paid_totals(self, limit: int) -> list[tuple[str, int]]:
        """(currency, total) of the latest orders whose money was taken, for risk models."""
        rows = await t.Order.select(t.Order.currency, t.Order.total).where(
            t.Order.status.is_in(_MONEY_TAKEN)
        ).order_by(t.Order.created_at, ascending=False).limit(limit)
        return [(row["currency"], int(row["total"])) for row in rows]

    async def of_customer(
        self, customer_id: str, limit: int, before: str | None = None
    ) -> list[Order]:
        ahead = self._read_ahead.customer_orders.pop(customer_id, None)
        if ahead is not None and not before and limit <= ahead[0]:
            return [self.from_row(row) for row in ahead[1][:limit]]
        condition: Combinable = t.Order.customer_id == customer_id
        if before:
            condition &= t.Order.created_at < datetime.fromisoformat(before)
        rows = await t.Order.select().where(condition).order_by(
            t.Order.created_at, ascending=False).limit(limit)
        return [self.from_row(row) for row in rows]
