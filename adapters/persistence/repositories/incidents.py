"""Incidents opened and notifications sent."""

from __future__ import annotations

from typing import Any

from adapters.persistence import tables as t
from adapters.persistence.repositories._rows import _dump, _with_iso
from application.ports import Clock
from domain.redaction import card_safe_id


class IncidentRepository:
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


class NotificationRepository:
    def __init__(self, clock: Clock) -> None:
        self._clock = clock

    async def log(self, customer_id: str, channel: str, template: str, subject: str) -> None:
        await t.NotificationLog.insert(t.NotificationLog(
            owner=customer_id, channel=channel, template=template, subject=subject,
            sent_at=self._clock.now(),
        ))
