"""Incidents reach the operators on real channels: an incident opened by the mall pages
PagerDuty, posts to Slack and emails the operators (stand-ins that check the documented
formats, and a real SMTP server); the admin API acknowledges and resolves it, and the
resolution closes the page under the same dedup key. An incident nobody acknowledges is
alerted again, once, one severity up (a fake clock moves past the delay)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from dependency_injector import providers

import bootstrap
from application.transactions import commit_and_dispatch, open_incident
from domain.alerts import dedup_key
from domain.customers import Role
from entrypoints.http.access_log import PathOnlyAccessLogger
from entrypoints.http.app import create_app
from tests.conftest import reset_database
from tests.e2e.conftest import Shop
from tests.e2e.identity_steps import bearer
from tests.fakes.clock import FakeClock
from tests.helpers import eventually
from tests.integration.alert_standins import PagerDutyStandIn, SlackStandIn
from tests.smtp_peer import HOST, SmtpPeer, smtp_peer

ROUTING_KEY = "Rmall0123456789abcdef0123456789a"
OPS = "ops@mall.test"


@dataclass
class Mall:
    shop: Shop
    clock: FakeClock
    pagerduty: PagerDutyStandIn
    slack: SlackStandIn
    peer: SmtpPeer
    admin: dict[str, str]

    async def open_incident(self, severity: str) -> str:
        """A partner failure, opened as the payment flow opens them (with its alert)."""
        container = self.shop.container
        async with container.uow()() as uow:
            incident_id = await open_incident(
                uow, "provider_failure", "provider:stripe", {"error": "HTTP 503"},
                severity=severity, source="stripe", summary="stripe keeps answering 503")
            await commit_and_dispatch(uow, container.queue())
        return incident_id

    async def post(self, path: str, body: Any = None, status: int = 200,
                   headers: dict[str, str] | None = None) -> dict[str, Any]:
        response = await self.shop.client.post(path, json=body, headers=headers or self.admin)
        assert response.status == status, await response.text()
        return dict(json.loads(await response.text()))  # problem+json too

    async def listing(self, status: str) -> list[dict[str, Any]]:
        response = await self.shop.client.get(f"/v1/admin/incidents?status={status}",
                                              headers=self.admin)
        assert response.status == 200, await response.text()
        return list((await response.json())["incidents"])

    async def pages(self, key: str, count: int) -> list[dict[str, Any]]:
        async def arrived() -> list[dict[str, Any]]:
            events = self.pagerduty.events_of(key)
            return events if len(events) >= count else []

        return await eventually(arrived, what=f"{count} PagerDuty events for {key}")

    async def slack_posts(self, count: int) -> list[dict[str, Any]]:
        async def arrived() -> list[dict[str, Any]]:
            return self.slack.messages if len(self.slack.messages) >= count else []

        return await eventually(arrived, what=f"{count} Slack posts")

    async def mails_to_ops(self, count: int) -> list[Any]:
        async def arrived() -> list[Any]:
            mails = [m for m in self.peer.received if OPS in m.rcpt_tos]
            return mails if len(mails) >= count else []

        return await eventually(arrived, what=f"{count} alert emails to the operators")


@pytest.fixture
def peer() -> Iterator[SmtpPeer]:
    with smtp_peer() as server:
        yield server


@pytest.fixture
async def mall(settings_factory: Callable[..., bootstrap.Settings], aiohttp_server: Any,
               aiohttp_client: Any, peer: SmtpPeer) -> Mall:
    pagerduty, slack = PagerDutyStandIn({ROUTING_KEY}), SlackStandIn()
    pd_server = await aiohttp_server(pagerduty.application())
    slack_server = await aiohttp_server(slack.application())
    settings = settings_factory(
        alert_provider="channels", pagerduty_routing_key=ROUTING_KEY,
        pagerduty_base_url=str(pd_server.make_url("")).rstrip("/"),
        slack_webhook_url=str(slack_server.make_url(slack.path)), alert_emails=[OPS],
        email_providers=["smtp"], smtp_host=HOST, smtp_port=peer.port, smtp_tls="none",
        smtp_sender="Mall <no-reply@mall.test>", alert_escalation_minutes=15,
        # The test runs the escalation check itself, at the times its clock says.
        alert_escalation_check_interval_seconds=86400, access_token_ttl_seconds=7200)
    container = bootstrap.build(settings)
    clock = FakeClock(datetime.now(UTC))
    container.clock.override(providers.Object(clock))
    await reset_database(container)
    server = await aiohttp_server(create_app(container), access_log_class=PathOnlyAccessLogger)
    shop = Shop(await aiohttp_client(server), container)
    await container.accounts().register("admin@mall.test", "admin password 1", role=Role.ADMIN)
    admin = await bearer(shop, "admin@mall.test", "admin password 1")
    return Mall(shop, clock, pagerduty, slack, peer, admin)


async def test_a_critical_incident_pages_posts_and_mails_and_its_resolution_closes_the_page(
    mall: Mall,
) -> None:
    incident_id = await mall.open_incident("critical")
    key = dedup_key(incident_id)
    [trigger] = await mall.pages(key, 1)
    assert trigger["routing_key"] == ROUTING_KEY and trigger["event_action"] == "trigger"
    assert trigger["payload"]["severity"] == "critical"
    assert trigger["payload"]["class"] == "provider_failure"
    assert trigger["payload"]["custom_details"] == {
        "incident_id": incident_id, "kind": "provider_failure", "error": "HTTP 503"}
    [post] = await mall.slack_posts(1)
    assert post["text"].startswith("[CRITICAL] stripe")
    [mail] = await mall.mails_to_ops(1)
    assert incident_id in mail.message["Subject"]
    assert mall.pagerduty.refused == [] and mall.slack.refused == []

    [listed] = await mall.listing("open")
    assert (listed["id"], listed["severity"], listed["status"]) == (incident_id, "critical",
                                                                    "open")
    acknowledged = await mall.post(f"/v1/admin/incidents/{incident_id}/acknowledge")
    assert acknowledged["status"] == "acknowledged" and acknowledged["acknowledged_by"]
    await mall.pages(key, 2)
    assert mall.pagerduty.alerts[key]["status"] == "acknowledged"

    resolved = await mall.post(f"/v1/admin/incidents/{incident_id}/resolve",
                               {"note": "Stripe recovered; payments retried"})
    assert resolved["status"] == "resolved"
    assert resolved["note"] == "Stripe recovered; payments retried"
    events = await mall.pages(key, 3)
    assert events[2] == {"event_action": "resolve", "dedup_key": key,
                         "routing_key": ROUTING_KEY}
    assert mall.pagerduty.alerts[key]["status"] == "resolved", "the page is closed"
    assert await mall.listing("open") == []
    assert [i["id"] for i in await mall.listing("resolved")] == [incident_id]

    evidence = await mall.shop.client.get("/v1/admin/evidence?subject=provider:stripe",
                                          headers=mall.admin)
    kinds = [r["kind"] for r in (await evidence.json())["records"]]
    assert kinds == ["incident.acknowledged", "incident.resolved"]
    exchanges = await mall.shop.client.get(f"/v1/admin/evidence?subject=incident:{incident_id}",
                                           headers=mall.admin)
    records = (await exchanges.json())["records"]
    assert {r["source"] for r in records} >= {"pagerduty", "slack"}
    assert ROUTING_KEY not in str(records) and mall.slack.path not in str(records)


async def test_an_unacknowledged_warning_escalates_once_to_a_critical_page(mall: Mall) -> None:
    incident_id = await mall.open_incident("warning")
    key = dedup_key(incident_id)
    await mall.mails_to_ops(1)
    await mall.slack_posts(1)
    assert mall.pagerduty.events == [], "a warning pages nobody"

    incidents = mall.shop.container.incident_alerts()
    assert await incidents.escalate_unacknowledged() == 0, "not yet: within the delay"
    mall.clock.advance(minutes=16)
    assert await incidents.escalate_unacknowledged() == 1
    [page] = await mall.pages(key, 1)
    assert page["payload"]["severity"] == "critical"
    assert page["payload"]["summary"].startswith("unacknowledged for 15 min:")
    assert page["payload"]["custom_details"]["escalated_from"] == "warning"
    await mall.mails_to_ops(2)
    mall.clock.advance(minutes=30)
    assert await incidents.escalate_unacknowledged() == 0, "escalated once only"
    [listed] = await mall.listing("open")
    assert listed["severity"] == "critical" and listed["escalated_at"]

    await mall.post(f"/v1/admin/incidents/{incident_id}/acknowledge")
    again = await mall.post(f"/v1/admin/incidents/{incident_id}/acknowledge")
    assert again["status"] == "acknowledged", "acknowledging again changes nothing"
    await mall.post(f"/v1/admin/incidents/{incident_id}/resolve")
    events = await mall.pages(key, 3)
    assert [e["event_action"] for e in events] == ["trigger", "acknowledge", "resolve"]
    assert mall.pagerduty.alerts[key]["status"] == "resolved"


async def test_the_admin_api_refuses_what_cannot_be_done(mall: Mall) -> None:
    incident_id = await mall.open_incident("warning")
    for action in ("acknowledge", "resolve"):
        missing = await mall.post(f"/v1/admin/incidents/inc_nothere/{action}", status=404)
        assert missing["status"] == 404
    await mall.post(f"/v1/admin/incidents/{incident_id}/resolve", {"note": "false alarm"})
    twice = await mall.post(f"/v1/admin/incidents/{incident_id}/resolve", {"note": "again"},
                            status=409)
    assert "resolved already" in twice["detail"]
    await mall.post(f"/v1/admin/incidents/{incident_id}/acknowledge", status=409)
    [kept] = await mall.listing("resolved")
    assert kept["note"] == "false alarm", "the first resolution stands"

    await mall.post(f"/v1/admin/incidents/{incident_id}/resolve", {"note": "x" * 501},
                    status=422)
    await mall.post(f"/v1/admin/incidents/{incident_id}/resolve", {"reason": "x"}, status=422)
    bad = await mall.shop.client.get("/v1/admin/incidents?status=lost", headers=mall.admin)
    assert bad.status == 400
    customer = await mall.shop.sign_up()
    forbidden = await mall.shop.client.get("/v1/admin/incidents", headers=customer)
    assert forbidden.status == 403
    await mall.post(f"/v1/admin/incidents/{incident_id}/resolve", {}, status=403,
                    headers=customer)
