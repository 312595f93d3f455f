"""The incidents opened with an alert: the incident's row keeps its status, the
incident_alert row what it was paged with and what the operators did (domain/alerts.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from adapters.persistence import tables as t
from adapters.persistence.repositories._rows import _at
from application.ports import Clock
from domain.alerts import AlertedIncident, AlertStatus
from domain.delivery_incidents import KIND as DELIVERY_KIND

_STATUSES = frozenset(status.value for status in AlertStatus)


def _incident(row: dict[str, Any], alert: dict[str, Any] | None) -> AlertedIncident:
    alert = alert or {}
    status = row["status"]
    return AlertedIncident(
        id=row["id"], kind=row["kind"], subject=row["subject"],
        severity=alert.get("severity", ""), source=alert.get("source", row["kind"]),
        summary=alert.get("summary", ""),
        status=AlertStatus(status) if status in _STATUSES else AlertStatus.OPEN,
        opened_at=_at(row["opened_at"]), acknowledged_at=_at(alert.get("acknowledged_at")),
        acknowledged_by=alert.get("acknowledged_by", ""),
        escalated_at=_at(alert.get("escalated_at")), resolved_at=_at(row["resolved_at"]),
        resolved_by=alert.get("resolved_by", ""), note=alert.get("note", ""))


class AlertedIncidentRows:
    """Part of IncidentRepository (adapters/persistence/repositories/incidents.py)."""

    _clock: Clock
    _COLUMNS = (t.Incident.id, t.Incident.kind, t.Incident.subject, t.Incident.status,
                t.Incident.opened_at, t.Incident.resolved_at)

    async def alerted(self, incident_id: str, severity: str, source: str,
                      summary: str) -> None:
        await t.IncidentAlert.insert(t.IncidentAlert(
            incident_id=incident_id, severity=severity[:16], source=source[:40],
            summary=summary[:300], opened_at=self._clock.now()))

    async def alerted_incident(self, incident_id: str) -> AlertedIncident | None:
        row = await t.Incident.select(*self._COLUMNS).where(
            (t.Incident.id == incident_id) & (t.Incident.kind != DELIVERY_KIND)).first()
        if row is None:
            return None
        alert = await t.IncidentAlert.select().where(
            t.IncidentAlert.incident_id == incident_id).first()
        return _incident(row, alert)

    async def save_alerted(self, incident: AlertedIncident) -> None:
        await t.Incident.update({
            t.Incident.status: incident.status.value, t.Incident.resolved_at: incident.resolved_at,
        }).where(t.Incident.id == incident.id)
        await t.IncidentAlert.update({
            t.IncidentAlert.severity: incident.severity,
            t.IncidentAlert.acknowledged_at: incident.acknowledged_at,
            t.IncidentAlert.acknowledged_by: incident.acknowledged_by,
            t.IncidentAlert.escalated_at: incident.escalated_at,
            t.IncidentAlert.resolved_at: incident.resolved_at,
            t.IncidentAlert.resolved_by: incident.resolved_by,
            t.IncidentAlert.note: incident.note,
        }).where(t.IncidentAlert.incident_id == incident.id)

    async def alerted_incidents(self, statuses: list[str], limit: int) -> list[AlertedIncident]:
        rows = await t.Incident.select(*self._COLUMNS).where(
            (t.Incident.kind != DELIVERY_KIND) & t.Incident.status.is_in(statuses)
        ).order_by(t.Incident.opened_at, ascending=False).limit(limit)
        return await self._with_alerts(rows)

    async def unacknowledged(self, opened_by: datetime, limit: int) -> list[AlertedIncident]:
        alerts = await t.IncidentAlert.select(t.IncidentAlert.incident_id).where(
            t.IncidentAlert.acknowledged_at.is_null() & t.IncidentAlert.escalated_at.is_null()
            & t.IncidentAlert.resolved_at.is_null() & (t.IncidentAlert.opened_at <= opened_by)
        ).order_by(t.IncidentAlert.opened_at).limit(limit)
        if not alerts:
            return []
        rows = await t.Incident.select(*self._COLUMNS).where(
            t.Incident.id.is_in([a["incident_id"] for a in alerts])
            & (t.Incident.status == AlertStatus.OPEN.value))
        return sorted(await self._with_alerts(rows), key=lambda i: i.opened_at)

    @staticmethod
    async def _with_alerts(rows: list[dict[str, Any]]) -> list[AlertedIncident]:
        if not rows:
            return []
        alerts = {a["incident_id"]: a for a in await t.IncidentAlert.select().where(
            t.IncidentAlert.incident_id.is_in([row["id"] for row in rows]))}
        return [_incident(row, alerts.get(row["id"])) for row in rows]
