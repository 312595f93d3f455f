"""Shipments in and out of their table."""

from __future__ import annotations

import json
from typing import Any

from adapters.persistence import tables as t
from adapters.persistence.repositories._rows import _at, _dump
from domain.shipments import Shipment, ShipmentStatus


class ShipmentRepository:
    @staticmethod
    def _from(row: dict[str, Any] | None) -> Shipment | None:
        if row is None:
            return None
        return Shipment(
            id=row["id"], order_id=row["order_id"], seller_id=row["seller_id"],
            carrier=row["carrier"], status=ShipmentStatus(row["status"]),
            tracking_number=row["tracking_number"], last_event_at=_at(row["last_event_at"]),
            history=json.loads(row["history"]),
        )

    async def add(self, shipment: Shipment) -> None:
        await t.Shipment.insert(t.Shipment(
            id=shipment.id, order_id=shipment.order_id, seller_id=shipment.seller_id,
            carrier=shipment.carrier, status=shipment.status.value,
            tracking_number=shipment.tracking_number,
            last_event_at=shipment.last_event_at, history=_dump(shipment.history),
        ))

    async def get(self, shipment_id: str) -> Shipment | None:
        return self._from(await t.Shipment.select().where(t.Shipment.id == shipment_id).first())

    async def by_tracking(self, carrier: str, tracking_number: str) -> Shipment | None:
        return self._from(await t.Shipment.select().where(
            (t.Shipment.carrier == carrier) & (t.Shipment.tracking_number == tracking_number)
        ).first())

    async def save(self, shipment: Shipment) -> None:
        await t.Shipment.update({
            t.Shipment.status: shipment.status.value,
            t.Shipment.tracking_number: shipment.tracking_number,
            t.Shipment.last_event_at: shipment.last_event_at,
            t.Shipment.history: _dump(shipment.history),
        }).where(t.Shipment.id == shipment.id)

    async def of_order(self, order_id: str) -> list[Shipment]:
        rows = await t.Shipment.select().where(t.Shipment.order_id == order_id).order_by(
            t.Shipment.seller_id)
        return [s for s in map(self._from, rows) if s is not None]
