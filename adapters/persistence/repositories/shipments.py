"""Shipments in and out of their table."""

from __future__ import annotations

import json
from typing import Any

from piccolo.table import Table

from adapters.persistence import raw
from adapters.persistence import tables as t
from adapters.persistence.repositories._rows import _at, _dump
from adapters.persistence.repositories.orders import OrderRepository
from adapters.persistence.repositories.read_ahead import ReadAhead
from domain.orders import Order
from domain.shipments import DeliveryProblem, Shipment, ShipmentStatus, TrackingUpdate


def _prefixed(table: type[Table], alias: str) -> str:
    return ", ".join(f'{alias}."{name}" AS "{alias}_{name}"' for name in (
        column._meta.db_column_name for column in table._meta.columns))


# A shipment with the order it ships: one row, each side's columns under its prefix.
WITH_ORDER = (f"SELECT {_prefixed(t.Shipment, 's')}, {_prefixed(t.Order, 'o')} "  # noqa: S608
              "FROM shipment s JOIN orders o ON o.id = s.order_id WHERE s.id = $1")


def _unprefixed(row: Any, prefix: str) -> dict[str, Any]:
    return {key[len(prefix):]: value for key, value in row.items() if key.startswith(prefix)}


class ShipmentRepository:
    def __init__(self, read_ahead: ReadAhead | None = None) -> None:
        self._read_ahead = ReadAhead() if read_ahead is None else read_ahead
        # An order's shipments as this unit of work read them. Shipments are added to an
        # order only under its lock (the payment that settles it, a reshipment), which the
        # unit reading them holds: a second read in the same unit finds the same rows.
        self._of_order: dict[str, list[Shipment]] = {}

    @staticmethod
    def _from(row: dict[str, Any] | None) -> Shipment | None:
        if row is None:
            return None
        last_event_at = _at(row["last_event_at"])
        tracking_number = row["tracking_number"] or ""
        marks = [TrackingUpdate(
            tracking_number, ShipmentStatus(mark["status"]), _at(mark["at"]), mark["detail"],
            DeliveryProblem(mark["problem"]) if mark.get("problem") else None,
        ) for mark in json.loads(row["marks"] or "[]")]
        history = json.loads(row["history"])
        if not marks and history and last_event_at is not None:
            # Written before shipments kept their events: the statuses it went through, in order.
            marks = [TrackingUpdate(tracking_number, ShipmentStatus(status), last_event_at)
                     for status in dict.fromkeys(history)]
        return Shipment(
            id=row["id"], order_id=row["order_id"], seller_id=row["seller_id"],
            carrier=row["carrier"], status=ShipmentStatus(row["status"]),
            tracking_number=row["tracking_number"], last_event_at=last_event_at,
            history=history, lines=json.loads(row["lines"] or "{}"), service=row["service"],
            marks=marks,
        )

    @staticmethod
    def _marks(shipment: Shipment) -> str:
        return _dump([{"status": m.status.value, "at": m.occurred_at.isoformat(),
                       "detail": m.detail, "problem": m.problem.value if m.problem else None}
                      for m in shipment.marks])

    async def add(self, shipment: Shipment) -> None:
        await raw.insert(t.Shipment(  # gathered on PostgreSQL (raw.py)
            id=shipment.id, order_id=shipment.order_id, seller_id=shipment.seller_id,
            carrier=shipment.carrier, status=shipment.status.value,
            tracking_number=shipment.tracking_number,
            last_event_at=shipment.last_event_at, history=_dump(shipment.history),
            lines=_dump(shipment.lines), service=shipment.service, marks=self._marks(shipment),
        ))
        self._read_ahead.shipments.pop(shipment.order_id, None)  # older than this
        known = self._of_order.get(shipment.order_id)
        if known is not None:
            known.append(shipment)
            known.sort(key=lambda s: s.seller_id)

    async def get(self, shipment_id: str) -> Shipment | None:
        return self._from(await t.Shipment.select().where(t.Shipment.id == shipment_id).first())

    async def with_order(self, shipment_id: str) -> tuple[Shipment, Order] | None:
        if not raw.on_postgres():
            shipment = await self.get(shipment_id)
            order = await OrderRepository.read(shipment.order_id) if shipment else None
            return (shipment, order) if shipment and order else None
        rows = await raw.fetch(WITH_ORDER, shipment_id)
        if not rows:
            return None
        shipment = self._from(_unprefixed(rows[0], "s_"))
        assert shipment is not None
        return shipment, OrderRepository.from_row(_unprefixed(rows[0], "o_"))

    async def by_tracking(self, carrier: str, tracking_number: str) -> Shipment | None:
        return self._from(await t.Shipment.select().where(
            (t.Shipment.carrier == carrier) & (t.Shipment.tracking_number == tracking_number)
        ).first())

    async def save(self, shipment: Shipment) -> None:
        await raw.update(t.Shipment, {  # gathered on PostgreSQL
            t.Shipment.status: shipment.status.value,
            t.Shipment.tracking_number: shipment.tracking_number,
            t.Shipment.last_event_at: shipment.last_event_at,
            t.Shipment.history: _dump(shipment.history),
            t.Shipment.marks: self._marks(shipment),
        }, shipment.id)
        self._read_ahead.shipments.pop(shipment.order_id, None)  # older than this
        known = self._of_order.get(shipment.order_id)
        if known is not None:
            known[:] = [shipment if s.id == shipment.id else s for s in known]

    async def of_order(self, order_id: str) -> list[Shipment]:
        if order_id not in self._of_order:
            ahead = self._read_ahead.shipments.pop(order_id, None)
            rows = ahead if ahead is not None else await t.Shipment.select().where(
                t.Shipment.order_id == order_id).order_by(t.Shipment.seller_id)
            self._of_order[order_id] = [s for s in map(self._from, rows) if s is not None]
        return list(self._of_order[order_id])
