"""Incidents the operators were alerted about, as the alert channels and the admin API
follow them (domain/alerts.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from domain.alerts import AlertedIncident


class AlertedIncidents(Protocol):
    """Part of the incidents repository: the incidents opened with an alert."""

    async def alerted(self, incident_id: str, severity: str, source: str,
                      summary: str) -> None:
        """Keep that the incident was alerted with this severity, source and summary."""
        ...

    async def alerted_incident(self, incident_id: str) -> AlertedIncident | None:
        """The incident as an alerted one; None when there is no such incident or it is a
        delivery incident (those follow their own flow)."""
        ...

    async def save_alerted(self, incident: AlertedIncident) -> None: ...

    async def alerted_incidents(self, statuses: list[str], limit: int) -> list[AlertedIncident]:
        """Alerted incidents in one of `statuses`, the most recent first."""
        ...

    async def unacknowledged(self, opened_by: datetime, limit: int) -> list[AlertedIncident]:
        """Open alerted incidents opened at or before `opened_by`, never acknowledged nor
        escalated, oldest first."""
        ...
