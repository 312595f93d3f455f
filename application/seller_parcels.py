"""Sellers who ship themselves: what they owe an order, and the parcels they hand over.

With a Korean domestic carrier the seller takes the parcel to CJ Logistics, Korea Post, Hanjin,
Lotte or Logen and types the waybill number in. Each parcel holds some of the seller's lines
(the rest may follow later: a backorder), becomes a shipment of its own, and is followed
through Delivery Tracker from then on.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from application.bus import publish
from application.ports import Clock, TaskQueue, UnitOfWork, UnitOfWorkFactory
from application.transactions import commit_and_dispatch, new_id, send
from domain.carriers import carrier as korean_carrier
from domain.carriers import normalise_tracking_number
from domain.commands import FollowParcel
from domain.errors import AlreadyExists, DomainError, InvalidTransition, NotFound
from domain.evidence import EvidenceDraft
from domain.orders import FULFILMENT, Order
from domain.shipments import Shipment
from domain.shipping_options import NoShippingOption, ShippingCatalogue


class SellerParcels:
    def __init__(self, uow: UnitOfWorkFactory, shipping: ShippingCatalogue, clock: Clock,
                 queue: TaskQueue) -> None:
        self._uow, self._shipping, self._clock, self._queue = uow, shipping, clock, queue

    async def owed(self, seller_id: str, order_id: str) -> dict[str, Any]:
        """What `seller_id` has to send for `order_id`, where to, and what it sent."""
        async with self._uow(snapshot=True) as uow:
            order = await self._order_of(uow, seller_id, order_id)
            shipments = await uow.shipments.of_order(order_id)
        return self._view(order, seller_id, shipments)

    async def register(self, seller_id: str, order_id: str, carrier_id: str,
                       tracking_number: str,
                       lines: Mapping[str, int] | None = None) -> tuple[bool, dict[str, Any]]:
        """Record a parcel handed to a domestic carrier; (created, the parcel's view).

        Registering the same waybill for the same order again answers the parcel already
        recorded: a seller's system may retry."""
        number = normalise_tracking_number(carrier_id, tracking_number)
        async with self._uow() as uow:
            order = await self._order_of(uow, seller_id, order_id, lock=True)
            existing = await uow.shipments.by_tracking(carrier_id, number)
            if existing is not None:
                if existing.order_id != order_id or existing.seller_id != seller_id:
                    raise AlreadyExists(
                        f"{korean_carrier(carrier_id).name_en} tracking number {number} is "
                        "already registered for another parcel; check the waybill")
                return False, _parcel_view(existing)
            self._check_can_ship(order, carrier_id)
            shipments = await uow.shipments.of_order(order_id)
            content = _content(order.unshipped(seller_id, shipments), lines, seller_id)
            shipment = Shipment(new_id("shp"), order_id, seller_id, carrier_id,
                                lines=content, service=order.service)
            shipment.accepted(number, order.customer_id)
            await uow.shipments.add(shipment)
            await uow.evidence.append(EvidenceDraft(
                source=f"seller:{seller_id}", kind="shipment.registered",
                subject=f"order:{order_id}",
                context={"shipment_id": shipment.id, "seller_id": seller_id},
                payload={"carrier": carrier_id, "tracking_number": number, "lines": content},
            ))
            await publish(uow, shipment.events)
            await send(uow, FollowParcel(shipment.id))
            await commit_and_dispatch(uow, self._queue)
        return True, _parcel_view(shipment)

    @staticmethod
    async def _order_of(uow: UnitOfWork, seller_id: str, order_id: str, *,
                        lock: bool = False) -> Order:
        order = await (uow.orders.lock(order_id) if lock else uow.orders.get(order_id))
        if order is None or not order.lines_of(seller_id):
            # Another seller's order is not found either: nothing about it is told.
            raise NotFound(f"order {order_id} has nothing from seller {seller_id}")
        return order

    def _check_can_ship(self, order: Order, carrier_id: str) -> None:
        if order.status not in FULFILMENT or order.held_for_review:
            raise InvalidTransition(
                f"order {order.id} is {order.status.value}"
                + (" and held for review" if order.held_for_review else "")
                + ": nothing ships before it is paid and cleared")
        korean_carrier(carrier_id)  # a clear 422 naming the carriers we know
        domestic = [o for o in self._shipping.options(order.country, order.currency)
                    if o.seller_ships]
        if not any(o.carrier == carrier_id for o in domestic):
            raise NoShippingOption(
                f"{carrier_id} does not deliver to {order.country} for the mall; sellers may "
                "hand parcels to " + (", ".join(o.carrier for o in domestic) or "no carrier"),
                [o.view() for o in domestic], self._shipping.countries())

    @staticmethod
    def _view(order: Order, seller_id: str, shipments: list[Shipment]) -> dict[str, Any]:
        address = order.shipping_address
        return {
            "order_id": order.id, "status": order.status.value,
            "carrier": order.carrier, "service": order.service,
            "ship_to": {"recipient": address.recipient, "line1": address.line1,
                        "line2": address.line2, "city": address.city,
                        "postal_code": address.postal_code, "country": address.country},
            "to_ship": [{"sku": sku, "quantity": n}
                        for sku, n in sorted(order.unshipped(seller_id, shipments).items())],
            "parcels": [_parcel_view(s) for s in shipments if s.seller_id == seller_id],
        }


def _content(owed: dict[str, int], asked: Mapping[str, int] | None,
             seller_id: str) -> dict[str, int]:
    """What goes in the parcel: what was asked for, or all the seller still owes."""
    if not owed:
        raise InvalidTransition(f"seller {seller_id} has sent everything of this order already")
    if not asked:
        return dict(owed)
    for sku, quantity in asked.items():
        if quantity < 1:
            raise DomainError(f"quantity of {sku} must be at least 1")
        if quantity > owed.get(sku, 0):
            raise DomainError(
                f"{sku}: {owed.get(sku, 0)} left to ship from seller {seller_id}, not {quantity}"
                f" (left to ship: {', '.join(f'{k} x{v}' for k, v in sorted(owed.items()))})")
    return dict(asked)


def _parcel_view(shipment: Shipment) -> dict[str, Any]:
    return {"id": shipment.id, "carrier": shipment.carrier,
            "tracking_number": shipment.tracking_number, "status": shipment.status.value,
            "lines": [{"sku": sku, "quantity": n} for sku, n in sorted(shipment.lines.items())]}
