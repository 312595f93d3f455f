"""Commands that reach people: customers and sellers, analytics, the operators."""

from __future__ import annotations

from application.analytics import AnalyticsPolicy, keep, prepare
from application.messaging import Messaging
from application.ports import Alert, AlertSink, AnalyticsSink, Clock, UnitOfWorkFactory
from domain.commands import RaiseAlert, SendNotification, TrackEvent


async def send_notification(command: SendNotification, messaging: Messaging,
                            message_id: str = "") -> None:
    await messaging.send(command, message_id)


async def notification_given_up(command: SendNotification, messaging: Messaging,
                                error: Exception, message_id: str = "") -> None:
    await messaging.given_up(command, message_id, error)


async def track_event(command: TrackEvent, analytics: AnalyticsSink, clock: Clock,
                      analytics_policy: AnalyticsPolicy, uow: UnitOfWorkFactory,
                      message_id: str) -> None:
    """The milestone through the tracking plan, the privacy filter and the customer's
    consent; what may leave is queued for the analytics services (message_id: stable across
    retries, so the queue keeps the event once and the services dedupe on it)."""
    event = prepare(command, analytics_policy, clock.now(), message_id)
    if event is not None:
        # The event queued (if the customer's consent allows) and the message ended in one
        # commit: one statement on PostgreSQL, where the queue reads the consent in it.
        await keep(event, command.customer_id, analytics, analytics_policy, uow)


async def raise_alert(command: RaiseAlert, alerts: AlertSink) -> None:
    await alerts.alert(Alert(command.severity, command.source, command.summary,
                             command.detail,
                             incident_id=str(command.detail.get("incident_id", ""))))
