"""Carriers: booking a shipment and reading their tracking webhooks."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from application.ports.webhooks import InboundEvent
from domain.orders import ShippingAddress
from domain.shipments import TrackingUpdate


@dataclass(frozen=True)
class ShipmentRequest:
    shipment_id: str
    order_id: str
    idempotency_key: str
    address: ShippingAddress
    items: list[dict[str, Any]]


class Carrier(Protocol):
    """A logistics partner: books shipments and reports tracking by signed webhooks."""

    name: str

    async def create_shipment(self, request: ShipmentRequest) -> str:
        """Book the shipment (idempotent per key) and return its tracking number."""
        ...

    def verify_webhook(self, headers: Mapping[str, str], body: bytes) -> InboundEvent: ...

    def translate_webhook(self, event: InboundEvent) -> TrackingUpdate | None: ...
