"""Telling people and systems: transactional messages, analytics events, operator alerts."""

from __future__ import annotations

from collections.abc import Mapping
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
    key_id: str = ""  # the key anonymous_id and the ref properties were hashed with


@dataclass(frozen=True)
class Notification:
    channel: str  # "email" | "sms" | "push"
    recipient: str
    template: str
    params: dict[str, Any]


@dataclass(frozen=True)
class Alert:
    severity: str  # "info" | "warning" | "error" | "critical" (domain/alerts.py)
    source: str
    summary: str
    detail: dict[str, Any] = field(default_factory=dict)
    # The incident it is about ("": none); channels name the alert by it, so the incident's
    # acknowledgement and resolution reach the page its trigger opened.
    incident_id: str = ""
    action: str = "trigger"  # "trigger" | "acknowledge" | "resolve" (domain.alerts.AlertAction)


class AnalyticsSink(Protocol):
    """Receives anonymized business events; must never be given personal data."""

    async def track(self, event: AnalyticsEvent) -> None: ...


class Notifier(Protocol):
    """Delivers a transactional message on one channel; raises ProviderUnavailable to retry."""

    async def send(self, notification: Notification) -> None: ...


class AlertSink(Protocol):
    """Tells the operators that a partner or a job failed and needs a human, and that an
    incident was acknowledged or resolved. Raises ProviderUnavailable when a channel could not
    take it now (the alert is sent again later)."""

    async def alert(self, alert: Alert) -> None: ...


@dataclass(frozen=True)
class RenderedMessage:
    """A message in the recipient's language, as one channel carries it."""

    subject: str  # an email's subject, a push notification's title; unused by SMS
    text: str  # the plain-text body: an email's text part, the SMS, the push body
    html: str = ""  # an email's HTML part


@dataclass(frozen=True)
class Envelope:
    """One message for one provider to deliver."""

    message_id: str  # ours, the same on every retry: providers that dedupe are given it
    channel: str  # "email" | "sms" | "push"
    to: str  # an email address, an E.164 phone number or a device token
    content: RenderedMessage
    promotional: bool = False
    headers: Mapping[str, str] = field(default_factory=dict)  # extra email headers
    data: Mapping[str, str] = field(default_factory=dict)  # a push message's data payload
    # What it was rendered from, for the dev mailbox and log sinks that show a message type
    # and follow its links; providers send `content` and never these.
    template: str = ""
    params: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class SendReceipt:
    provider: str
    provider_message_id: str  # what the provider's status callbacks name the message by
    status: str = "sent"  # a domain.messages.DeliveryStatus value: "queued" or "sent"


class ChannelSender(Protocol):
    """A provider of one channel (SMTP, Twilio, FCM, the dev mailbox).

    Raises ProviderUnavailable when it cannot take the message now (the next provider of
    the channel, or the next channel, is tried) and RecipientRejected when this recipient
    can never be reached this way (hard bounce, opted out, device unregistered).

    A sender may say it is `in_process` (True: it keeps what it sends in the mall's own
    database, as the dev mailbox does): it is then called within the unit of work that
    records the message sent, so that both commit together. Such a sender must take every
    message: a refusal from it is not handled as a provider's would be."""

    name: str
    channel: str

    async def send(self, envelope: Envelope) -> SendReceipt: ...


class TemplateRenderer(Protocol):
    """Every message type in every language and channel (see domain/messages.py)."""

    def render(self, template: str, channel: str, language: str,
               params: Mapping[str, Any]) -> RenderedMessage: ...

    def version(self, template: str) -> str:
        """A fingerprint of the template's text, recorded with each send as evidence."""
        ...
