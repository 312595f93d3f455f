"""Commands that reach people: customers and sellers, analytics, the operators."""

from __future__ import annotations

from application.messaging import Messaging
from application.ports import (
    Alert,
    AlertSink,
    AnalyticsEvent,
    AnalyticsSink,
    Clock,
)
from domain.commands import RaiseAlert, SendNotification, TrackEvent
from domain.privacy import pseudonym


async def send_notification(command: SendNotification, messaging: Messaging,
                            message_id: str = "") -> None:
    await messaging.send(command, message_id)


async def notification_given_up(command: SendNotification, messaging: Messaging,
                                error: Exception, message_id: str = "") -> None:
    await messaging.given_up(command, message_id, error)


async def track_event(command: TrackEvent, analytics: AnalyticsSink, clock: Clock,
                      pseudonym_key: bytes, message_id: str) -> None:
    await analytics.track(AnalyticsEvent(
        message_id=message_id,  # stable across retries: the sink dedupes on it
        name=command.name,
        anonymous_id=pseudonym(command.customer_id, pseudonym_key, purpose="analytics"),
        occurred_at=clock.now(),
        properties={k: (pseudonym(str(v), pseudonym_key, purpose="analytics")
                        if k == "order_ref" else v)
                    for k, v in command.properties.items()},
    ))


async def raise_alert(command: RaiseAlert, alerts: AlertSink) -> None:
    await alerts.alert(Alert(command.severity, command.source, command.summary,
                             command.detail))
