"""Push devices in memory, as adapters/persistence/repositories/devices.py keeps them."""

from __future__ import annotations

from domain.devices import PushDevice
from tests.fakes.storage import Repository


class FakeDevices(Repository):
    name = "devices"

    async def add(self, device: PushDevice) -> None:
        self._put(device.token, device)

    async def remove(self, token: str, customer_id: str | None = None) -> bool:
        device: PushDevice | None = self._get(token)
        if device is None or (customer_id is not None and device.customer_id != customer_id):
            return False
        del self._rows[token]
        return True

    async def of_customer(self, customer_id: str) -> list[PushDevice]:
        mine = [d for d in self._all() if d.customer_id == customer_id]
        return sorted(mine, key=lambda d: d.registered_at, reverse=True)
