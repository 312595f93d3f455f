"""The ParcelWatches port (application/parcel_tracking.py) on the `parcel_watch` table.

Its queries join whatever transaction is open on the engine (piccolo's): called inside a unit
of work, a watch is saved with the tracking it follows, or not at all."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from piccolo.columns import Column

from adapters.persistence.repositories._rows import _at
from adapters.persistence.tables import ParcelWatch as Row
from application.parcel_tracking import FOLLOWING, ParcelWatch


def _watch(row: dict[str, Any]) -> ParcelWatch:
    return ParcelWatch(
        shipment_id=row["shipment_id"], carrier=row["carrier"],
        tracking_number=row["tracking_number"], started_at=_at(row["started_at"]),
        next_check_at=_at(row["next_check_at"]) if row["next_check_at"] else None,
        status=row["status"], quiet_checks=row["quiet_checks"],
        webhook_expires_at=(_at(row["webhook_expires_at"]) if row["webhook_expires_at"]
                            else None),
        reason=row["reason"] or "")


class PiccoloParcelWatches:
    async def get(self, shipment_id: str) -> ParcelWatch | None:
        row = await Row.select().where(Row.shipment_id == shipment_id).first()
        return _watch(row) if row is not None else None

    async def save(self, watch: ParcelWatch) -> None:
        values: dict[str, Any] = {
            "carrier": watch.carrier, "tracking_number": watch.tracking_number,
            "status": watch.status, "started_at": watch.started_at,
            "next_check_at": watch.next_check_at, "quiet_checks": watch.quiet_checks,
            "webhook_expires_at": watch.webhook_expires_at, "reason": watch.reason}
        inserted = await Row.insert(Row(shipment_id=watch.shipment_id, **values)).on_conflict(
            target=Row.shipment_id, action="DO NOTHING").returning(Row.shipment_id)
        if not inserted:
            changes: dict[Column | str, Any] = {name: value for name, value in values.items()}
            await Row.update(changes).where(Row.shipment_id == watch.shipment_id)

    async def claim_due(self, now: datetime, until: datetime, limit: int) -> list[str]:
        due = await Row.select(Row.shipment_id).where(
            (Row.status == FOLLOWING) & (Row.next_check_at <= now)
        ).order_by(Row.next_check_at).limit(limit)
        ids = [row["shipment_id"] for row in due]
        if not ids:
            return []
        # Only those still due: another process may have claimed some in between.
        claimed = await Row.update({Row.next_check_at: until}).where(
            Row.shipment_id.is_in(ids) & (Row.status == FOLLOWING) & (Row.next_check_at <= now)
        ).returning(Row.shipment_id)
        return [row["shipment_id"] for row in claimed]
