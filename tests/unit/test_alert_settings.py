"""The alert settings: routes name known severities and channels, a routed channel needs its
settings before the mall starts, and the container builds only the channels routes name."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

import bootstrap
from adapters.alerting.routing import RoutingAlertSink
from tests.unit.settings_steps import settings

pytestmark = pytest.mark.usefixtures("no_mall_environment")

KEY = "R0123456789abcdef0123456789abcde"


def test_routed_channels_need_their_settings() -> None:
    with pytest.raises(ValidationError, match="MALL_PAGERDUTY_ROUTING_KEY, "
                                              "MALL_SLACK_WEBHOOK_URL, MALL_ALERT_EMAILS"):
        settings(alert_provider="channels")
    only_slack = {severity: ["log", "slack"] for severity in
                  ("info", "warning", "error", "critical")}
    ready = settings(alert_provider="channels", alert_routes=only_slack,
                     slack_webhook_url="https://hooks.slack.test/services/T/B/x")
    assert ready.alert_routes["critical"] == ["log", "slack"]
    assert settings().alert_provider == "log", "the log alone needs nothing"


def test_routes_name_known_severities_and_channels_and_keep_the_other_defaults() -> None:
    with pytest.raises(ValidationError, match="unknown: sms"):
        settings(alert_routes={"critical": ["sms"]})
    with pytest.raises(ValidationError, match="unknown: fatal"):
        settings(alert_routes='{"fatal": ["log"]}')
    with pytest.raises(ValidationError, match="not an email address"):
        settings(alert_emails=["ops"])
    read = settings(alert_routes='{"warning": ["log"]}')
    assert read.alert_routes["warning"] == ["log"]
    assert "pagerduty" in read.alert_routes["critical"]


def test_the_container_builds_the_channels_the_routes_name(tmp_path: Path) -> None:
    container = bootstrap.build(settings(
        keys_file=str(tmp_path / "keys.json"), sqlite_path=str(tmp_path / "m.sqlite"),
        alert_provider="channels", pagerduty_routing_key=KEY,
        alert_routes={s: ["log", "pagerduty"] for s in ("info", "warning", "error",
                                                       "critical")}))
    sink = container.alerts()
    assert isinstance(sink, RoutingAlertSink)
    assert sorted(sink._channels) == ["log", "pagerduty"]
    assert container.alert_http() is not container.http(), "alerts have a client of their own"
