"""Commands that book parcels with carriers and apply what providers call back with."""

from __future__ import annotations

from typing import Protocol

from domain.commands import ApplyProviderEvent, CreateShipment


class Fulfilment(Protocol):
    """What these handlers ask of the fulfilment use cases (application/shipping.py)."""

    async def create_shipment(self, shipment_id: str) -> None: ...


class Webhooks(Protocol):
    """What these handlers ask of the callback use cases (application/webhooks.py)."""

    async def process(self, inbox_id: str) -> None: ...


async def create_shipment(command: CreateShipment, fulfilment: Fulfilment) -> None:
    await fulfilment.create_shipment(command.shipment_id)


async def apply_provider_event(command: ApplyProviderEvent, webhooks: Webhooks) -> None:
    await webhooks.process(command.inbox_id)
