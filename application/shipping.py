"""Fulfilment: book shipments with the chosen carrier and follow their tracking."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from application.bus import publish
from application.ports import (
    Carrier,
    Clock,
    ShipmentRequest,
    TaskQueue,
    UnitOfWork,
    UnitOfWorkFactory,
)
from application.transactions import commit_and_dispatch
from domain.errors import NotFound
from domain.evidence import EvidenceDraft
from domain.orders import Order
from domain.shipments import Shipment, TrackingUpdate


class Fulfilment:
    def __init__(
        self, uow: UnitOfWorkFactory, carriers: Mapping[str, Carrier], clock: Clock,
        queue: TaskQueue,
    ) -> None:
        self._uow, self._carriers, self._clock, self._queue = uow, carriers, clock, queue

    async def create_shipment(self, shipment_id: str) -> None:
        """Book one shipment with its carrier; repeating it books nothing new."""
        async with self._uow(read_only=True) as uow:
            found = await uow.shipments.with_order(shipment_id)
            if found is None:
                raise NotFound(f"shipment {shipment_id} not found")
            shipment, order = found
            if shipment.tracking_number:
                return
        request = ShipmentRequest(
            shipment_id=shipment.id, order_id=order.id, idempotency_key=shipment.id,
            address=order.shipping_address,
            # What a customs declaration needs abroad: what it is, and the line's value in
            # major units of the order's currency (carriers at home ignore them).
            items=_items(order, shipment),
        )
        tracking_number = await self._carriers[shipment.carrier].create_shipment(request)
        async with self._uow() as uow:
            # Read again: a booking that ran meanwhile (the carrier dedupes on the key) wins.
            current = await uow.shipments.get(shipment_id)
            assert current is not None
            if current.tracking_number:
                return
            shipment = current
            shipment.accepted(tracking_number, order.customer_id)
            await uow.shipments.save(shipment)
            await uow.evidence.append(EvidenceDraft(
                source=shipment.carrier, kind="shipment.created", subject=f"order:{order.id}",
                context={"shipment_id": shipment.id, "seller_id": shipment.seller_id},
                payload={"tracking_number": tracking_number},
            ))
            await publish(uow, shipment.events)
            await commit_and_dispatch(uow, self._queue)

    async def apply_tracking(
        self, uow: UnitOfWork, carrier: str, update: TrackingUpdate
    ) -> bool:
        found = await uow.shipments.by_tracking(carrier, update.tracking_number)
        if found is None:
            raise NotFound(f"no shipment with {carrier} tracking number {update.tracking_number}")
        # Shipments of one order arrive together: lock the order, then read its current state.
        order = await uow.orders.lock(found.order_id)
        shipment = await uow.shipments.get(found.id)
        assert shipment is not None and order is not None
        if not shipment.apply(update, order.customer_id):
            return False
        await uow.shipments.save(shipment)
        events = list(shipment.events)
        siblings = await uow.shipments.of_order(order.id)
        order.shipments_progressed(siblings)
        await uow.orders.save(order)
        events.extend(order.events)
        order.events.clear()
        await uow.evidence.append(EvidenceDraft(
            source=carrier, kind="shipment.transition", subject=f"order:{order.id}",
            context={"shipment_id": shipment.id},
            payload={"status": shipment.status.value, "detail": update.detail,
                     "occurred_at": update.occurred_at.isoformat()},
        ))
        await publish(uow, events)
        return True


def _items(order: Order, shipment: Shipment) -> list[dict[str, Any]]:
    """What the parcel holds, line by line: a split parcel declares only its share."""
    left = shipment.quantities(order.unshipped(shipment.seller_id, []))
    items = []
    for line in order.lines_of(shipment.seller_id):
        quantity = min(line.quantity, left.get(line.sku, 0))
        if quantity:
            left[line.sku] -= quantity
            items.append({"sku": line.sku, "quantity": quantity, "description": line.title,
                          "value": str((line.unit_price * quantity).decimal),
                          "currency": line.unit_price.currency})
    return items
