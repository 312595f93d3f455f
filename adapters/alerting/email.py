"""Alerts by email to the operators' addresses, through the mall's email providers (the
same ChannelSenders customers' messages go through: SMTP, the dev mailbox), tried in order.

Each message about an incident has an id made of the alert's key, action and severity, so a
retry carries the same Message-ID and a mail client that dedupes shows it once.
"""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
from collections.abc import Mapping

from adapters.alerting.shape import AlertRejected, headline, key_of, safe_detail
from application.ports import Alert, ChannelSender, Envelope, RenderedMessage
from domain.errors import ProviderUnavailable, RecipientRejected

log = logging.getLogger("mall.alerts")
TEMPLATE = "operator_alert"


def alert_message(alert: Alert) -> RenderedMessage:
    detail = json.dumps(safe_detail(alert), ensure_ascii=False, indent=2, default=str)
    text = (f"{headline(alert)}\n\nSeverity: {alert.severity}\nSource: {alert.source}\n"
            f"Action: {alert.action}\nAlert key: {key_of(alert)}\n")
    if alert.action == "trigger":
        text += f"\nDetail:\n{detail}\n"
    if alert.incident_id:
        text += (f"\nAcknowledge or resolve it: POST /v1/admin/incidents/{alert.incident_id}"
                 "/acknowledge or /resolve\n")
    return RenderedMessage(subject=headline(alert)[:200], text=text)


def _message_id(alert: Alert, recipient: str) -> str:
    """The same for every retry of an incident's alert step; new for each alert about no
    incident (the same words said again later are a new alert, not a repeat to hide)."""
    if not alert.incident_id:
        return f"alert-{uuid.uuid4().hex}"
    step = f"{key_of(alert)}|{alert.action}|{alert.severity}|{recipient}"
    return f"alert-{hashlib.sha256(step.encode()).hexdigest()[:40]}"


class EmailAlerts:
    name = "email"

    def __init__(self, senders: Mapping[str, ChannelSender], recipients: list[str]) -> None:
        if not recipients:
            raise ValueError("the email alert channel needs MALL_ALERT_EMAILS")
        self._senders, self._recipients = list(senders.values()), list(recipients)

    async def alert(self, alert: Alert) -> None:
        content = alert_message(alert)
        refused, unavailable = 0, None
        for recipient in self._recipients:
            envelope = Envelope(_message_id(alert, recipient), "email", recipient, content,
                                template=TEMPLATE)
            try:
                await self._send(envelope)
            except RecipientRejected as exc:
                refused += 1
                log.error("an operator's alert address was refused (%s)", exc.reason)
            except ProviderUnavailable as exc:
                unavailable = unavailable or exc
        if unavailable is not None:
            raise unavailable
        if refused == len(self._recipients):
            raise AlertRejected("every operator's address refused the alert")

    async def _send(self, envelope: Envelope) -> None:
        last: Exception | None = None
        for sender in self._senders:
            try:
                await sender.send(envelope)
                return
            except ProviderUnavailable as exc:
                last = exc
        raise ProviderUnavailable(f"no email provider took the alert ({last})")
