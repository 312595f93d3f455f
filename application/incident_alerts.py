"""The operators' side of alerted incidents: list them, acknowledge and resolve them, and
escalate those nobody acknowledged in time.

Acknowledging and resolving change the incident and send an UpdateAlert through the outbox in
the same transaction, so the page the trigger opened is acknowledged or closed even when a
channel is down at that moment. The periodic check alerts once more, one severity up, every
incident still unacknowledged past the escalation delay. Every step is evidence, under the
incident's subject; a resolution note is redacted before it is kept.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from application.ports import Clock, TaskQueue, UnitOfWork, UnitOfWorkFactory
from application.transactions import commit_and_dispatch, send
from domain.alerts import AlertAction, AlertedIncident, AlertStatus
from domain.commands import RaiseAlert, UpdateAlert
from domain.errors import NotFound
from domain.evidence import EvidenceDraft
from domain.redaction import redact_card_numbers

ESCALATION_BATCH = 100


class IncidentAlerts:
    def __init__(self, uow: UnitOfWorkFactory, clock: Clock, queue: TaskQueue,
                 escalate_after: timedelta) -> None:
        """`escalate_after`: how long an incident may stay unacknowledged before it is
        alerted again, one severity up."""
        self._uow, self._clock, self._queue = uow, clock, queue
        self._escalate_after = escalate_after

    async def listing(self, status: str | None, limit: int = 100) -> list[dict[str, Any]]:
        """Incidents of one status (every status when None), the most recent first."""
        statuses = [status] if status else [s.value for s in AlertStatus]
        async with self._uow(read_only=True) as uow:
            found = await uow.incidents.alerted_incidents(statuses, limit)
        return [self.view(incident) for incident in found]

    async def acknowledge(self, incident_id: str, admin_id: str) -> dict[str, Any]:
        """An operator took the incident on: escalation stops and the page is acknowledged.
        Acknowledging it again changes nothing."""
        async with self._uow() as uow:
            incident = await self._get(uow, incident_id)
            if incident.acknowledge(admin_id, self._clock.now()):
                await self._followed_up(uow, incident, AlertAction.ACKNOWLEDGE, admin_id, {})
                await commit_and_dispatch(uow, self._queue)
        return self.view(incident)

    async def resolve(self, incident_id: str, admin_id: str, note: str) -> dict[str, Any]:
        """The incident is over: the page closes. A resolved incident cannot be resolved
        again (InvalidTransition)."""
        note = redact_card_numbers(note.strip())
        async with self._uow() as uow:
            incident = await self._get(uow, incident_id)
            incident.resolve(admin_id, note, self._clock.now())
            await self._followed_up(uow, incident, AlertAction.RESOLVE, admin_id,
                                    {"note": note})
            await commit_and_dispatch(uow, self._queue)
        return self.view(incident)

    async def escalate_unacknowledged(self) -> int:
        """Alert again, one severity up, every incident left unacknowledged past the delay
        (once each); the number escalated."""
        now = self._clock.now()
        async with self._uow() as uow:
            found = await uow.incidents.unacknowledged(now - self._escalate_after,
                                                       ESCALATION_BATCH)
            due = [i for i in found if i.severity and i.escalation_due(now,
                                                                       self._escalate_after)]
            for incident in due:
                was = incident.severity
                severity = incident.escalate(now)
                await uow.incidents.save_alerted(incident)
                minutes = int(self._escalate_after.total_seconds() // 60)
                await send(uow, RaiseAlert(
                    severity, incident.source,
                    f"unacknowledged for {minutes} min: {incident.summary}",
                    {"incident_id": incident.id, "escalated_from": was}))
                await self._evidence(uow, incident, "incident.escalated", "mall",
                                     {"from": was, "to": severity})
            if due:
                await commit_and_dispatch(uow, self._queue)
        return len(due)

    @staticmethod
    def view(incident: AlertedIncident) -> dict[str, Any]:
        def at(value: Any) -> str | None:
            return value.isoformat() if value else None

        return {
            "id": incident.id, "kind": incident.kind, "subject": incident.subject,
            "status": incident.status.value, "severity": incident.severity or None,
            "source": incident.source, "summary": incident.summary,
            "opened_at": at(incident.opened_at),
            "acknowledged_at": at(incident.acknowledged_at),
            "acknowledged_by": incident.acknowledged_by or None,
            "escalated_at": at(incident.escalated_at), "resolved_at": at(incident.resolved_at),
            "resolved_by": incident.resolved_by or None, "note": incident.note,
        }

    @staticmethod
    async def _get(uow: UnitOfWork, incident_id: str) -> AlertedIncident:
        incident = await uow.incidents.alerted_incident(incident_id)
        if incident is None:
            raise NotFound(f"no incident {incident_id} (delivery incidents are settled under "
                           "/v1/admin/delivery-incidents)")
        return incident

    async def _followed_up(self, uow: UnitOfWork, incident: AlertedIncident,
                           action: AlertAction, admin_id: str, extra: dict[str, Any]) -> None:
        """Save the step, tell the channels that paged it (none when it was never paged by
        its id), and keep the step as evidence."""
        await uow.incidents.save_alerted(incident)
        if incident.severity:
            await send(uow, UpdateAlert(incident.id, action.value, incident.severity,
                                        incident.source, incident.summary))
        await self._evidence(uow, incident, f"incident.{action.value}d", "admin",
                             {"admin_id": admin_id, **extra})

    @staticmethod
    async def _evidence(uow: UnitOfWork, incident: AlertedIncident, kind: str, source: str,
                        payload: dict[str, Any]) -> None:
        await uow.evidence.append(EvidenceDraft(
            source=source, kind=kind, subject=incident.subject,
            context={"incident_id": incident.id},
            payload={"status": incident.status.value, "severity": incident.severity,
                     **payload}))
