"""Push devices in and out of their table."""

from __future__ import annotations

from adapters.persistence import tables as t
from adapters.persistence.repositories._rows import _at
from domain.devices import PushDevice


class DeviceRepository:
    async def add(self, device: PushDevice) -> None:
        """Register the token for this customer; a token registered before (by anyone) is
        moved to them: the same app on the same phone, now signed in as someone else."""
        await t.PushDevice.insert(t.PushDevice(
            token=device.token, customer_id=device.customer_id, platform=device.platform,
            registered_at=device.registered_at,
        )).on_conflict(target=t.PushDevice.token, action="DO UPDATE",
                       values=[t.PushDevice.customer_id, t.PushDevice.platform,
                               t.PushDevice.registered_at])

    async def remove(self, token: str, customer_id: str | None = None) -> bool:
        """Forget the token (only if it is `customer_id`'s, when given); False if it was not
        registered (to them)."""
        query = t.PushDevice.delete().where(t.PushDevice.token == token)
        if customer_id is not None:
            query = query.where(t.PushDevice.customer_id == customer_id)
        removed = await query.returning(t.PushDevice.token)
        return bool(removed)

    async def of_customer(self, customer_id: str) -> list[PushDevice]:
        rows = await t.PushDevice.select().where(
            t.PushDevice.customer_id == customer_id).order_by(
            t.PushDevice.registered_at, ascending=False)
        return [PushDevice(row["token"], row["customer_id"], row["platform"],
                           _at(row["registered_at"])) for row in rows]
