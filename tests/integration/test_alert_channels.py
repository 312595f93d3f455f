"""The alert channels against stand-ins that check the documented request formats
(alert_standins.py): PagerDuty's Events API v2 bodies, held field for field against the ones
PagerDuty's official Python client (`pagerduty`) sends to the same stand-in, Slack's
incoming-webhook messages, and email to the operators through a real SMTP server. Nothing
personal or secret leaves in an alert, and the evidence keeps no credential."""

from __future__ import annotations

import asyncio
import json
import ssl
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pagerduty
import pytest

from adapters.alerting.email import EmailAlerts
from adapters.alerting.pagerduty import GROUP, PagerDutyAlerts
from adapters.alerting.routing import DEFAULT_ROUTES, RoutingAlertSink
from adapters.alerting.shape import AlertRejected
from adapters.alerting.slack import SlackAlerts
from adapters.http import OutboundHttp
from adapters.messaging.console import LogAlertSink
from adapters.messaging.smtp import SmtpEmailSender, SmtpServer
from application.ports import Alert
from domain.alerts import dedup_key
from domain.errors import ProviderUnavailable
from tests.fakes.clock import FakeClock
from tests.helpers import NoAlerts, RecordingLedger
from tests.integration.alert_standins import PagerDutyStandIn, SlackStandIn
from tests.smtp_peer import HOST, SmtpPeer, self_signed_certificate, smtp_peer

ROUTING_KEY = "R0123456789abcdef0123456789abcde"  # an integration key is 32 characters
NOW = datetime(2026, 12, 2, 9, 30, tzinfo=UTC)
CARD = "4111 1111 1111 1111"


def incident_alert(severity: str = "critical", action: str = "trigger",
                   detail: dict[str, Any] | None = None) -> Alert:
    return Alert(severity, "stripe", "stripe is failing: payments cannot be authorized",
                 detail if detail is not None else {"incident_id": "inc_7f3a", "kind":
                                                    "provider_failure", "attempts": 3},
                 incident_id="inc_7f3a", action=action)


@dataclass
class Channels:
    pagerduty: PagerDutyStandIn
    slack: SlackStandIn
    pd_alerts: PagerDutyAlerts
    slack_alerts: SlackAlerts
    ledger: RecordingLedger
    pd_url: str
    pd_tls_url: str
    ca: ssl.SSLContext


@pytest.fixture
async def channels(aiohttp_server: Any, tmp_path: Path) -> AsyncIterator[Channels]:
    pd, slack = PagerDutyStandIn({ROUTING_KEY}), SlackStandIn()
    pd_server = await aiohttp_server(pd.application())
    # The official client speaks HTTPS only: the same stand-in, behind a certificate made now.
    cert, key = self_signed_certificate(tmp_path)
    served = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    served.load_cert_chain(cert, key)
    pd_tls = await aiohttp_server(pd.application(), ssl=served)
    slack_server = await aiohttp_server(slack.application())
    ledger = RecordingLedger()
    http = OutboundHttp(ledger, NoAlerts(), timeout_seconds=5, retries=1,
                        breaker_threshold=50, breaker_ttl_seconds=30)
    yield Channels(
        pd, slack,
        PagerDutyAlerts(http, FakeClock(NOW), ROUTING_KEY,
                        str(pd_server.make_url("")).rstrip("/")),
        SlackAlerts(http, str(slack_server.make_url(slack.path))), ledger,
        str(pd_server.make_url("")).rstrip("/"), str(pd_tls.make_url("")).rstrip("/"),
        ssl.create_default_context(cafile=str(cert)))
    await http.close()


def official_client(channels: Channels) -> pagerduty.EventsApiV2Client:
    return pagerduty.EventsApiV2Client(ROUTING_KEY, base_url=channels.pd_tls_url,
                                       verify=channels.ca)


async def test_our_events_are_the_official_clients_field_for_field(channels: Channels) -> None:
    alert = incident_alert()
    key = dedup_key("inc_7f3a")
    await channels.pd_alerts.alert(alert)
    await channels.pd_alerts.alert(incident_alert(action="acknowledge"))
    await channels.pd_alerts.alert(incident_alert(action="resolve"))
    ours = list(channels.pagerduty.events)
    channels.pagerduty.events.clear()

    client = official_client(channels)
    payload = ours[0]["payload"]
    returned = await asyncio.to_thread(
        client.trigger, payload["summary"], payload["source"], dedup_key=key,
        severity=payload["severity"],
        payload={"timestamp": NOW.isoformat(), "component": "stripe", "group": GROUP,
                 "class": "provider_failure"},
        custom_details={"incident_id": "inc_7f3a", "kind": "provider_failure", "attempts": 3})
    assert returned == key
    await asyncio.to_thread(client.acknowledge, key)
    await asyncio.to_thread(client.resolve, key)
    reference = channels.pagerduty.events

    assert channels.pagerduty.refused == []
    assert [e["event_action"] for e in reference] == ["trigger", "acknowledge", "resolve"]
    assert ours == reference, "each field as the official client sends it"
    assert json.dumps(ours, sort_keys=True) == json.dumps(reference, sort_keys=True)
    assert channels.pagerduty.user_agents[-1].startswith("python-pagerduty/")
    assert channels.pagerduty.alerts[key]["status"] == "resolved"


async def test_a_resolution_closes_the_page_its_trigger_opened(channels: Channels) -> None:
    await channels.pd_alerts.alert(incident_alert("warning"))
    await channels.pd_alerts.alert(incident_alert("critical"))  # an escalation: same alert
    key = dedup_key("inc_7f3a")
    assert list(channels.pagerduty.alerts) == [key]
    assert channels.pagerduty.alerts[key]["payload"]["severity"] == "critical"
    await channels.pd_alerts.alert(incident_alert(action="resolve"))
    assert channels.pagerduty.alerts[key]["status"] == "resolved"
    assert [e["event_action"] for e in channels.pagerduty.events_of(key)] == [
        "trigger", "trigger", "resolve"]


async def test_an_alert_without_an_incident_is_keyed_by_what_it_says(
    channels: Channels,
) -> None:
    circuit = Alert("critical", "toss", "toss is failing: calls are paused for a while",
                    {"state": "opened"})
    await channels.pd_alerts.alert(circuit)
    await channels.pd_alerts.alert(circuit)
    [key] = channels.pagerduty.alerts
    assert key.startswith("mall-alert-") and len(channels.pagerduty.events_of(key)) == 2


async def test_throttling_and_outages_are_retried_an_invalid_event_is_not(
    channels: Channels,
) -> None:
    channels.pagerduty.fail_next = [429]
    await channels.pd_alerts.alert(incident_alert())
    assert len(channels.pagerduty.events) == 1, "taken on the retry"

    channels.pagerduty.fail_next = [503, 503]
    with pytest.raises(ProviderUnavailable):
        await channels.pd_alerts.alert(incident_alert())

    wrong_key = PagerDutyAlerts(channels.pd_alerts._http, FakeClock(NOW), "not-our-key",
                                channels.pd_url)
    refused_before = len(channels.pagerduty.refused)
    with pytest.raises(AlertRejected, match="routing_key"):
        await wrong_key.alert(incident_alert())
    assert len(channels.pagerduty.refused) == refused_before + 1, "sent once, not retried"


async def test_nothing_personal_or_secret_leaves_and_the_evidence_keeps_no_credential(
    channels: Channels,
) -> None:
    detail = {"incident_id": "inc_7f3a", "email": "buyer@example.com", "api_key": "sk_live_1",
              "note": f"customer typed {CARD}"}
    alert = Alert("critical", "stripe", f"refund failed for card {CARD}", detail,
                  incident_id="inc_7f3a")
    await channels.pd_alerts.alert(alert)
    await channels.slack_alerts.alert(alert)
    sent = json.dumps([channels.pagerduty.events, channels.slack.messages])
    for leaked in ("buyer@example.com", "sk_live_1", CARD, "4111111111111111"):
        assert leaked not in sent
    evidence = json.dumps([d.payload for d in channels.ledger.drafts], default=str)
    assert ROUTING_KEY not in evidence, "the routing key is masked in the evidence"
    assert "webhook-secret-of-the-test" not in evidence, "the webhook URL is a credential"
    assert {d.subject for d in channels.ledger.drafts} == {"incident:inc_7f3a"}


async def test_slack_gets_text_and_blocks_and_its_refusals_are_final(
    channels: Channels,
) -> None:
    await channels.slack_alerts.alert(incident_alert())
    await channels.slack_alerts.alert(incident_alert(action="resolve"))
    trigger, resolution = channels.slack.messages
    assert trigger["text"].startswith("[CRITICAL] stripe: stripe is failing")
    assert "inc_7f3a" in trigger["text"]
    assert [b["type"] for b in trigger["blocks"]] == ["section", "section", "context"]
    assert resolution["text"].startswith("[RESOLVED] stripe")
    channels.slack.fail_next = [500, 500]
    with pytest.raises(ProviderUnavailable):
        await channels.slack_alerts.alert(incident_alert())
    gone = SlackAlerts(channels.slack_alerts._http,
                       channels.slack_alerts._url.replace("webhook-secret", "revoked"))
    with pytest.raises(AlertRejected, match="no_service"):
        await gone.alert(incident_alert())


@pytest.fixture
def peer() -> Iterator[SmtpPeer]:
    with smtp_peer() as server:
        yield server


async def test_the_severity_chooses_the_channels_and_one_down_does_not_stop_the_others(
    channels: Channels, peer: SmtpPeer,
) -> None:
    email = EmailAlerts({"smtp": SmtpEmailSender(SmtpServer(HOST, peer.port, "none"),
                                                 "Mall alerts <alerts@mall.test>")},
                        ["ops@mall.test", "oncall@mall.test"])
    sink = RoutingAlertSink({"pagerduty": channels.pd_alerts, "slack": channels.slack_alerts,
                             "email": email, "log": LogAlertSink()}, DEFAULT_ROUTES)

    await sink.alert(incident_alert("warning"))
    assert channels.pagerduty.events == [], "a warning pages nobody"
    assert len(channels.slack.messages) == 1
    mails = await asyncio.to_thread(peer.wait_for, 2)
    assert sorted(r for m in mails for r in m.rcpt_tos) == ["oncall@mall.test",
                                                             "ops@mall.test"]
    assert mails[0].message["Subject"].startswith("[WARNING] stripe")
    body = mails[0].message.get_body(("plain",))
    assert body is not None
    assert "/v1/admin/incidents/inc_7f3a/acknowledge" in body.get_content()

    channels.slack.fail_next = [503, 503]
    with pytest.raises(ProviderUnavailable):
        await sink.alert(incident_alert("critical"))
    assert [e["event_action"] for e in channels.pagerduty.events] == ["trigger"]
    assert len(await asyncio.to_thread(peer.wait_for, 4)) == 4, "email went out all the same"
    assert sink.channels_for("info") == ["log", "slack"]
