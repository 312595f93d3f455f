"""Alerts to the channels their severity calls for (MALL_ALERT_ROUTES): by default a
critical alert pages PagerDuty and goes to Slack and by email, a warning goes to Slack and by
email. An acknowledgement or a resolution goes where the incident's trigger went.

Every channel is tried, whatever another one did. A channel that refuses the alert for good
(AlertRejected) is logged and not tried again; when one could not take it now
(ProviderUnavailable) the alert is raised again once the others were tried, and the outbox
sends it again later: PagerDuty folds the repeat into the same alert (same dedup key), an
email repeats its Message-ID, a Slack message may show twice.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from adapters.alerting.shape import AlertRejected
from application.ports import Alert, AlertSink
from domain.alerts import SEVERITIES, known_severity
from domain.errors import ProviderUnavailable

log = logging.getLogger("mall.alerts")

CHANNELS = ("log", "pagerduty", "slack", "email")
DEFAULT_ROUTES: dict[str, list[str]] = {
    "critical": ["log", "pagerduty", "slack", "email"],
    "error": ["log", "pagerduty", "slack", "email"],
    "warning": ["log", "slack", "email"],
    "info": ["log", "slack"],
}


def channels_needed(routes: Mapping[str, list[str]]) -> list[str]:
    """The channels some severity goes to, in CHANNELS order."""
    named = {channel for names in routes.values() for channel in names}
    return [channel for channel in CHANNELS if channel in named]


class RoutingAlertSink:
    def __init__(self, channels: Mapping[str, AlertSink],
                 routes: Mapping[str, list[str]]) -> None:
        unknown = sorted(set(routes) - set(SEVERITIES))
        missing = sorted(set(channels_needed(routes)) - set(channels))
        if unknown or missing:
            raise ValueError(f"alert routes: unknown severities {unknown} or channels not "
                             f"built {missing}")
        self._channels, self._routes = dict(channels), dict(routes)

    def channels_for(self, severity: str) -> list[str]:
        return list(self._routes.get(known_severity(severity), []))

    async def alert(self, alert: Alert) -> None:
        retry: ProviderUnavailable | None = None
        for name in self.channels_for(alert.severity):
            try:
                await self._channels[name].alert(alert)
            except AlertRejected as exc:
                log.error("the %s alert channel refused an alert for good: %s", name, exc)
            except ProviderUnavailable as exc:
                log.warning("the %s alert channel is unavailable: %s", name, exc)
                retry = retry or exc
        if retry is not None:
            raise retry
