"""What every alert channel says, the same way: the alert's key, its detail without secrets,
personal data or card numbers, and a line a human reads."""

from __future__ import annotations

from typing import Any

from application.ports import Alert
from domain.alerts import dedup_key, known_severity
from domain.errors import DomainError
from domain.redaction import redact, redact_card_numbers


class AlertRejected(DomainError):
    """A channel refused the alert as malformed or not allowed (a 4xx other than 429):
    sending it again cannot help."""

    code = "alert-rejected"


def key_of(alert: Alert) -> str:
    return dedup_key(alert.incident_id, alert.source, alert.summary)


def safe_detail(alert: Alert) -> dict[str, Any]:
    """The detail as it may leave the mall: secrets masked, personal data withheld, card
    numbers removed."""
    cleaned = redact(dict(alert.detail))
    return cleaned if isinstance(cleaned, dict) else {}


def safe_summary(alert: Alert) -> str:
    return redact_card_numbers(alert.summary)[:1024]


def headline(alert: Alert) -> str:
    """One line: what happened to which incident, and how urgent it is."""
    severity = known_severity(alert.severity).upper()
    what = {"trigger": f"[{severity}]", "acknowledge": "[ACKNOWLEDGED]",
            "resolve": "[RESOLVED]"}.get(alert.action, f"[{alert.action.upper()}]")
    incident = f" (incident {alert.incident_id})" if alert.incident_id else ""
    return f"{what} {alert.source}: {safe_summary(alert)}{incident}"
