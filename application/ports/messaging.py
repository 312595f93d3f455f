"""Telling people and systems: transactional messages, analytics events, operator alerts."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol


@dataclass(frozen=True)
class AnalyticsEvent:
    message_id: str  # the same on every retry, so a sink can count the event once
    name: str
    anonymous_id: str  # pseudonymous: a keyed hash, never a customer id or an email
    occurred_at: datetime
    properties: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Notification:
    channel: str  # "email" | "sms" | "push"
    recipient: str
    template: str
    params: dict[str, Any]


@dataclass(frozen=True)
class Alert:
    severity: str  # "warning" | "critical"
    source: str
    summary: str
    detail: dict[str, Any] = field(default_factory=dict)


class AnalyticsSink(Protocol):
    """Receives anonymized business events; must never be given personal data."""

    async def track(self, event: AnalyticsEvent) -> None: ...


class Notifier(Protocol):
    """Delivers a transactional message on one channel; raises ProviderUnavailable to retry."""

    async def send(self, notification: Notification) -> None: ...


class AlertSink(Protocol):
    """Tells the operators that a partner or a job failed and needs a human."""

    async def alert(self, alert: Alert) -> None: ...
