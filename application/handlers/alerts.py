"""Commands that follow an alerted incident up on the alert channels."""

from __future__ import annotations

from application.ports import Alert, AlertSink
from domain.commands import UpdateAlert


async def update_alert(command: UpdateAlert, alerts: AlertSink) -> None:
    """The incident was acknowledged or resolved: its page follows (same key as its trigger)."""
    await alerts.alert(Alert(command.severity, command.source, command.summary,
                             {"incident_id": command.incident_id},
                             incident_id=command.incident_id, action=command.action))
