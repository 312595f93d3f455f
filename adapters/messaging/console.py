"""Sinks that write to the log: the console notifier, the analytics log sink, the alert log.

They never write an address or a customer id: recipients are shown as a short keyed hash.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections import deque

from application.ports import Alert, AnalyticsEvent, Notification
from domain.failures import explain
from domain.money import Money

TEMPLATES = {
    "order_paid": "Thank you! Payment for order {order_id} is confirmed.",
    "payment_failed": "Payment for order {order_id} did not go through. {explanation}",
    "payment_refunded": "We refunded {amount} on order {order_id}. Your bank shows it within "
                        "a few working days.",
    "order_cancelled": "Order {order_id} was cancelled. {explanation}",
    "verify_email": "Confirm your email address: {link}",
    "password_reset": "Reset your password within 30 minutes: {link} (if you did not ask, "
                      "ignore this message).",
    "awaiting_deposit": "Order {order_id} is waiting for your bank transfer.",
    "order_delivered": "Order {order_id} was delivered.",
    "delivery_exception": "There is a problem delivering order {order_id}: {reason}. "
                          "We opened case {incident_id}; what you can do: {options} "
                          "(GET /v1/orders/{order_id}/delivery-incidents).",
    "reshipment_booked_seller": "Order {order_id}: the customer asked for a reshipment (case "
                                "{incident_id}); shipment {new_shipment_id} is booked with "
                                "{carrier}, please prepare the parcel.",
    "reshipment_handover_seller": "Order {order_id}: the customer asked for a reshipment (case "
                                  "{incident_id}); hand a new parcel to {carrier} and register "
                                  "its tracking number on shipment {new_shipment_id}.",
    "delivery_rescheduled_seller": "Order {order_id}: the customer asked for delivery on "
                                   "{delivery_date} (case {incident_id}); please arrange it "
                                   "with the carrier.",
    "delivery_refunded_seller": "Order {order_id}: the customer was refunded for the parcel of "
                                "shipment {shipment_id} (case {incident_id}).",
    "ship_order_seller": "Order {order_id} is paid: hand {lines} to {carrier} and register "
                         "each parcel's tracking number (POST /v1/seller/orders/{order_id}/"
                         "parcels).",
    "delivery_exception_seller": "Delivery problem on order {order_id} ({reason}); "
                                 "case {incident_id} needs your attention.",
}


def render(notification: Notification) -> str:
    template = TEMPLATES.get(notification.template)
    if template is None:
        status = notification.template.removeprefix("shipment_").replace("_", " ")
        template = "Your shipment for order {order_id} is now: " + status + "."
    params = dict(notification.params)
    if "reason" in params:
        params["explanation"] = explain(str(params["reason"])).message
    if "amount_minor" in params and "currency" in params:
        params["amount"] = str(Money(int(params["amount_minor"]), str(params["currency"])))
    try:
        return template.format(**params)
    except (KeyError, IndexError):
        return template


def masked(recipient: str) -> str:
    return "rcpt_" + hashlib.sha256(recipient.encode()).hexdigest()[:12]


class ConsoleNotifier:
    """Logs each message (recipient masked, links withheld) and keeps the last ones in
    memory, so a developer or a test can follow an emailed link without a mail server."""

    def __init__(self, keep: int = 200) -> None:
        self._log = logging.getLogger("mall.notify")
        self.sent: deque[Notification] = deque(maxlen=keep)

    async def send(self, notification: Notification) -> None:
        self.sent.append(notification)
        shown = Notification(notification.channel, notification.recipient,
                             notification.template,
                             {k: ("[link withheld from logs]" if k == "link" else v)
                              for k, v in notification.params.items()})
        self._log.info("%s to %s [%s]: %s", notification.channel, masked(notification.recipient),
                       notification.template, render(shown))

    def last_link(self, recipient: str, template: str) -> str | None:
        for notification in reversed(self.sent):
            if notification.recipient == recipient and notification.template == template:
                return str(notification.params.get("link", "")) or None
        return None


class LogAnalyticsSink:
    def __init__(self) -> None:
        self._log = logging.getLogger("mall.analytics")

    async def track(self, event: AnalyticsEvent) -> None:
        self._log.info("%s", json.dumps({
            "event": event.name, "anonymousId": event.anonymous_id, "messageId": event.message_id,
            "timestamp": event.occurred_at.isoformat(), "properties": event.properties,
        }, sort_keys=True, default=str))


class LogAlertSink:
    def __init__(self) -> None:
        self._log = logging.getLogger("mall.alerts")

    async def alert(self, alert: Alert) -> None:
        level = logging.CRITICAL if alert.severity == "critical" else logging.WARNING
        self._log.log(level, "ALERT [%s] %s: %s %s", alert.severity, alert.source,
                      alert.summary, json.dumps(alert.detail, default=str))
