"""The sandbox carrier: books parcels and reports tracking by signed webhooks over time.

A postal code of 00000 plays a delivery exception (address not found); any other address is
picked up, goes in transit, out for delivery, and is delivered.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from adapters.persistence.tables import SandboxParcel
from adapters.sandbox_webhooks import SandboxWebhookSender
from adapters.signing import verified_event
from application.ports import Clock, EvidenceLedger, InboundEvent, ShipmentRequest
from domain.evidence import EvidenceDraft
from domain.redaction import card_safe_id
from domain.shipments import ShipmentStatus, TrackingUpdate

SIGNATURE_HEADER = "Sandbox-Carrier-Signature"
EXCEPTION_POSTAL_CODE = "00000"

JOURNEYS = {
    "normal": [("picked_up", ""), ("in_transit", "left the sorting centre"),
               ("out_for_delivery", ""), ("delivered", "handed to the recipient")],
    "address_error": [("picked_up", ""), ("in_transit", ""),
                      ("exception", "address_error: the address could not be found")],
}


class SandboxCarrier:
    name = "sandbox-express"

    def __init__(
        self, webhooks: SandboxWebhookSender, ledger: EvidenceLedger, secrets: Sequence[str],
        step_seconds: float, clock: Clock,
    ) -> None:
        self._webhooks, self._ledger, self._secrets = webhooks, ledger, list(secrets)
        self._step, self._clock = step_seconds, clock

    async def create_shipment(self, request: ShipmentRequest) -> str:
        existing = await SandboxParcel.select().where(
            SandboxParcel.idempotency_key == request.idempotency_key).first()
        if existing is not None:
            return str(existing["tracking_number"])
        scenario = ("address_error" if request.address.postal_code == EXCEPTION_POSTAL_CODE
                    else "normal")
        tracking = f"SBX{uuid.uuid4().int % 10**12:012d}"
        start = self._clock.now()
        inserted = await SandboxParcel.insert(SandboxParcel(
            idempotency_key=request.idempotency_key, tracking_number=tracking,
            scenario=scenario, order_id=request.order_id, created_at=start,
        )).on_conflict(target=SandboxParcel.idempotency_key, action="DO NOTHING").returning(
            SandboxParcel.tracking_number)
        if not inserted:
            stored = await SandboxParcel.select().where(
                SandboxParcel.idempotency_key == request.idempotency_key).first()
            assert stored is not None
            return str(stored["tracking_number"])
        await self._ledger.record(EvidenceDraft(
            source=self.name, kind="provider.parcel", subject=f"order:{request.order_id}",
            context={"shipment_id": request.shipment_id},
            payload={"tracking_number": tracking, "items": request.items,
                     "destination_country": request.address.country},
        ))
        steps = [self._step * (index + 1) for index in range(len(JOURNEYS[scenario]))]
        self._webhooks.schedule([
            (delay, self._event(tracking, request.order_id, status, detail,
                                start + timedelta(seconds=delay)))
            for delay, (status, detail) in zip(steps, JOURNEYS[scenario], strict=True)
        ])
        return tracking

    @staticmethod
    def _event(
        tracking: str, order_id: str, status: str, detail: str, occurred_at: datetime
    ) -> dict[str, Any]:
        return {
            "id": card_safe_id("trk"), "type": "tracking.updated",
            "data": {"tracking_number": tracking, "order_id": order_id, "status": status,
                     "detail": detail, "occurred_at": occurred_at.isoformat()},
        }

    def verify_webhook(self, headers: Mapping[str, str], body: bytes) -> InboundEvent:
        return verified_event(headers.get(SIGNATURE_HEADER), body, self._secrets,
                              "sandbox carrier")

    def translate_webhook(self, event: InboundEvent) -> TrackingUpdate | None:
        data = event.payload.get("data")
        if not isinstance(data, dict):
            return None
        if event.kind != "tracking.updated":
            return None
        try:
            return TrackingUpdate(
                tracking_number=str(data["tracking_number"]),
                status=ShipmentStatus(data["status"]),
                occurred_at=datetime.fromisoformat(data["occurred_at"]),
                detail=str(data.get("detail", "")),
            )
        except (KeyError, ValueError):
            return None
