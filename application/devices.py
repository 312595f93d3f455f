"""The devices a customer's apps register to receive push notifications on."""

from __future__ import annotations

from application.ports import Clock, UnitOfWorkFactory
from domain.devices import MAX_DEVICES_PER_CUSTOMER, PushDevice
from domain.errors import NotFound


class PushDevices:
    def __init__(self, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow, self._clock = uow, clock

    async def register(self, customer_id: str, token: str, platform: str) -> PushDevice:
        """The app's registration token is this customer's from now on (registering it
        again only refreshes it); past MAX_DEVICES_PER_CUSTOMER the oldest are forgotten."""
        device = PushDevice(token, customer_id, platform, self._clock.now())
        async with self._uow() as uow:
            await uow.devices.add(device)
            for stale in (await uow.devices.of_customer(customer_id))[MAX_DEVICES_PER_CUSTOMER:]:
                await uow.devices.remove(stale.token, customer_id)
            await uow.commit()
        return device

    async def unregister(self, customer_id: str, token: str) -> None:
        """The customer no longer wants push on that device (or signed out of the app)."""
        async with self._uow() as uow:
            removed = await uow.devices.remove(token, customer_id)
            await uow.commit()
        if not removed:
            raise NotFound("no device with that token is registered to you: register it with "
                           "POST /v1/me/devices")

    async def of_customer(self, customer_id: str) -> list[PushDevice]:
        async with self._uow(read_only=True) as uow:
            return await uow.devices.of_customer(customer_id)
