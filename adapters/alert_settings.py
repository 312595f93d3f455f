"""The settings of operator alerts: where incidents are sent, by severity."""

from __future__ import annotations

from datetime import timedelta
from email.utils import parseaddr
from typing import Self

from pydantic import field_validator, model_validator
from pydantic_settings import BaseSettings

from adapters.alerting.routing import CHANNELS, DEFAULT_ROUTES, channels_needed
from adapters.durations import Minutes, Seconds
from domain.alerts import SEVERITIES


class AlertSettings(BaseSettings):
    """Part of `adapters.settings.Settings`: alert channels and escalation."""

    # With MALL_ALERT_PROVIDER=channels: the channels each severity goes to.
    alert_routes: dict[str, list[str]] = DEFAULT_ROUTES
    pagerduty_routing_key: str = ""  # an Events API v2 integration's key
    pagerduty_base_url: str = "https://events.pagerduty.com"
    slack_webhook_url: str = ""  # a Slack incoming webhook (its URL is its secret)
    alert_emails: list[str] = []  # the operators' addresses
    # An incident nobody acknowledged this long is alerted again one severity up, once; the
    # worker looks for them this often.
    alert_escalation_minutes: Minutes = timedelta(minutes=15)
    alert_escalation_check_interval_seconds: Seconds = timedelta(minutes=1)

    @field_validator("alert_routes", mode="after")
    @classmethod
    def _routes_known(cls, given: dict[str, list[str]]) -> dict[str, list[str]]:
        unknown = sorted(set(given) - set(SEVERITIES))
        channels = sorted({c for names in given.values() for c in names} - set(CHANNELS))
        if unknown or channels:
            raise ValueError(f"severities are {', '.join(SEVERITIES)} and channels "
                             f"{', '.join(CHANNELS)}; unknown: {', '.join(unknown + channels)}")
        return {**DEFAULT_ROUTES, **given}

    @field_validator("alert_emails", mode="after")
    @classmethod
    def _addresses(cls, given: list[str]) -> list[str]:
        for address in given:
            if "@" not in parseaddr(address)[1]:
                raise ValueError(f"not an email address: {address!r}")
        return given

    @model_validator(mode="after")
    def _channels_configured(self) -> Self:
        if getattr(self, "alert_provider", "") != "channels":
            return self
        needs = {"pagerduty": ("MALL_PAGERDUTY_ROUTING_KEY", self.pagerduty_routing_key),
                 "slack": ("MALL_SLACK_WEBHOOK_URL", self.slack_webhook_url),
                 "email": ("MALL_ALERT_EMAILS", self.alert_emails)}
        missing = [needs[c][0] for c in channels_needed(self.alert_routes)
                   if c in needs and not needs[c][1]]
        if missing:
            raise ValueError(f"MALL_ALERT_PROVIDER=channels routes alerts to channels "
                             f"without their settings: set {', '.join(missing)}")
        return self
