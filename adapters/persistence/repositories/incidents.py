"""Incidents opened (delivery incidents among them) and notifications sent."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from adapters.persistence import raw
from adapters.persistence import tables as t
from adapters.persistence.repositories._rows import _at, _dump, _with_iso
from adapters.persistence.repositories.alerted_incidents import AlertedIncidentRows
from application.ports import Clock
from domain.delivery_incidents import (
    KIND,
    DeliveryIncident,
    IncidentStatus,
    Owner,
    Resolution,
)
from domain.redaction import card_safe_id
from domain.shipments import DeliveryProblem


class IncidentRepository(AlertedIncidentRows):
    def __init__(self, clock: Clock) -> None:
        self._clock = clock

    async def open(self, kind: str, subject: str, detail: dict[str, Any]) -> str:
        incident_id = card_safe_id("inc")
        await t.Incident.insert(t.Incident(
            id=incident_id, kind=kind, subject=subject, detail=_dump(detail), status="open",
            opened_at=self._clock.now(),
        ))
        return incident_id

    async def of_subject(self, subject: str) -> list[dict[str, Any]]:
        rows = await t.Incident.select(t.Incident.id, t.Incident.kind, t.Incident.opened_at,
                                       t.Incident.status).where(t.Incident.subject == subject)
        return [_with_iso(row, "opened_at") for row in rows]

    @staticmethod
    def _delivery_values(incident: DeliveryIncident) -> dict[Any, Any]:
        return {
            t.Incident.detail: _dump({
                "order_id": incident.order_id, "shipment_id": incident.shipment_id,
                "seller_id": incident.seller_id, "reason": incident.reason,
                "steps": incident.steps}),
            t.Incident.status: incident.status.value,
            t.Incident.problem: incident.problem.value,
            t.Incident.owner: incident.owner.value,
            t.Incident.updated_at: incident.updated_at,
            t.Incident.resolution: incident.resolution.value if incident.resolution else "",
            t.Incident.resolved_at: incident.resolved_at,
        }

    @staticmethod
    def _delivery(row: dict[str, Any]) -> DeliveryIncident:
        detail = json.loads(row["detail"])
        opened_at = _at(row["opened_at"])
        return DeliveryIncident(
            id=row["id"], order_id=detail["order_id"], shipment_id=detail["shipment_id"],
            seller_id=detail.get("seller_id", ""), problem=DeliveryProblem(row["problem"]),
            reason=detail.get("reason", ""), owner=Owner(row["owner"]),
            status=IncidentStatus(row["status"]), opened_at=opened_at,
            updated_at=_at(row["updated_at"]) or opened_at,
            resolution=Resolution(row["resolution"]) if row["resolution"] else None,
            resolved_at=_at(row["resolved_at"]), steps=detail.get("steps", []),
        )

    async def open_delivery(self, *, order_id: str, shipment_id: str, seller_id: str,
                            problem: DeliveryProblem, reason: str) -> DeliveryIncident:
        incident = DeliveryIncident.open(
            card_safe_id("inc"), order_id=order_id, shipment_id=shipment_id,
            seller_id=seller_id, problem=problem, reason=reason, now=self._clock.now())
        values = {column._meta.name: value
                  for column, value in self._delivery_values(incident).items()}
        await t.Incident.insert(t.Incident(
            id=incident.id, kind=KIND, subject=f"order:{incident.order_id}",
            opened_at=incident.opened_at, **values))
        return incident

    async def delivery(self, incident_id: str) -> DeliveryIncident | None:
        row = await t.Incident.select().where(
            (t.Incident.id == incident_id) & (t.Incident.kind == KIND)
            & (t.Incident.problem != "")).first()
        return self._delivery(row) if row else None

    async def save_delivery(self, incident: DeliveryIncident) -> None:
        await t.Incident.update(self._delivery_values(incident)).where(
            t.Incident.id == incident.id)

    async def deliveries_of_order(self, order_id: str) -> list[DeliveryIncident]:
        rows = await t.Incident.select().where(
            (t.Incident.subject == f"order:{order_id}") & (t.Incident.kind == KIND)
            & (t.Incident.problem != "")).order_by(t.Incident.opened_at)
        return [self._delivery(row) for row in rows]

    async def unresolved_deliveries(self, moved_by: datetime, limit: int,
                                    statuses: list[str]) -> list[DeliveryIncident]:
        rows = await t.Incident.select().where(
            (t.Incident.kind == KIND) & t.Incident.status.is_in(statuses)
            & (t.Incident.problem != "") & (t.Incident.updated_at <= moved_by)
        ).order_by(t.Incident.updated_at).limit(limit)
        return [self._delivery(row) for row in rows]


LOG = raw.insert_into("notification_log", ("owner", "channel", "template", "subject", "sent_at"))


class NotificationRepository:
    def __init__(self, clock: Clock) -> None:
        self._clock = clock

    async def log(self, customer_id: str, channel: str, template: str, subject: str) -> None:
        if raw.on_postgres():  # gathered with the rest of the message's outcome
            await raw.write(LOG, customer_id, channel, template, subject, self._clock.now())
            return
        await raw.later(t.NotificationLog.insert(t.NotificationLog(
            owner=customer_id, channel=channel, template=template, subject=subject,
            sent_at=self._clock.now(),
        )))
