"""Alerted incidents: an incident the operators were paged about, from the first alert to its
resolution.

An incident opened with an alert is `open` until an operator acknowledges it (`acknowledged`)
and ends when one resolves it (`resolved`). One left unacknowledged past the escalation delay
is alerted again, once, one severity up. The alert channels name the incident by its
deduplication key, the same for the trigger, the acknowledgement and the resolution, so a
resolution closes the page the trigger opened.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from domain.errors import InvalidTransition

# From the least to the most urgent, as PagerDuty's Events API v2 names them.
SEVERITIES = ("info", "warning", "error", "critical")


class AlertAction(StrEnum):
    TRIGGER = "trigger"
    ACKNOWLEDGE = "acknowledge"
    RESOLVE = "resolve"


class AlertStatus(StrEnum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


def known_severity(severity: str) -> str:
    """`severity` when it is one of SEVERITIES; anything else counts as `error`."""
    return severity if severity in SEVERITIES else "error"


# One step up the mall's ladder: the mall raises warnings and critical alerts (`error` comes
# only from elsewhere), so an escalated warning is critical and pages.
_ONE_UP = {"info": "warning", "warning": "critical", "error": "critical",
           "critical": "critical"}


def one_up(severity: str) -> str:
    """The next severity up (critical stays critical)."""
    return _ONE_UP[known_severity(severity)]


def dedup_key(incident_id: str, source: str = "", summary: str = "") -> str:
    """What every channel names one alert by: the incident's id, or for an alert about no
    incident (a provider's circuit opening), a digest of what it says, so that saying it
    again updates the same page instead of opening another one."""
    if incident_id:
        return f"mall-{incident_id}"
    digest = hashlib.sha256(f"{source}\n{summary}".encode()).hexdigest()[:32]
    return f"mall-alert-{digest}"


@dataclass
class AlertedIncident:
    """An incident opened with an alert, and what the operators did about it."""

    id: str
    kind: str
    subject: str
    severity: str
    source: str
    summary: str
    status: AlertStatus
    opened_at: datetime
    acknowledged_at: datetime | None = None
    acknowledged_by: str = ""
    escalated_at: datetime | None = None
    resolved_at: datetime | None = None
    resolved_by: str = ""
    note: str = ""

    def acknowledge(self, admin_id: str, now: datetime) -> bool:
        """An operator took it on; False when it was acknowledged already (nothing changes).
        A resolved incident cannot be acknowledged."""
        if self.status == AlertStatus.RESOLVED:
            raise InvalidTransition(f"incident {self.id} is resolved; there is nothing to "
                                    "acknowledge")
        if self.status == AlertStatus.ACKNOWLEDGED:
            return False
        self.status, self.acknowledged_at, self.acknowledged_by = (
            AlertStatus.ACKNOWLEDGED, now, admin_id)
        return True

    def resolve(self, admin_id: str, note: str, now: datetime) -> None:
        """It is over: the page closes. Resolving twice is refused (the first note stays)."""
        if self.status == AlertStatus.RESOLVED:
            raise InvalidTransition(f"incident {self.id} was resolved already, at "
                                    f"{self.resolved_at.isoformat() if self.resolved_at else '?'}")
        self.status, self.resolved_at, self.resolved_by, self.note = (
            AlertStatus.RESOLVED, now, admin_id, note[:500])

    def escalation_due(self, now: datetime, delay: timedelta) -> bool:
        """Nobody acknowledged it within `delay`, and it was not escalated before."""
        return (self.status == AlertStatus.OPEN and self.escalated_at is None
                and now - self.opened_at >= delay)

    def escalate(self, now: datetime) -> str:
        """Alerted again one severity up: the severity it is alerted with now."""
        if not self.escalation_due(now, timedelta(0)):
            raise InvalidTransition(f"incident {self.id} is {self.status.value} or escalated "
                                    "already; it does not escalate")
        self.escalated_at = now
        self.severity = one_up(self.severity)
        return self.severity
