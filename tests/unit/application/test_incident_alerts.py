"""Alerted incidents through the use case and the bus, on fakes: an incident's alert carries
its id, acknowledging and resolving it send UpdateAlert through the outbox in the same
transaction (with evidence), and the escalation check alerts once more, one severity up."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from application.incident_alerts import IncidentAlerts
from application.transactions import commit_and_dispatch, open_incident
from domain.commands import RaiseAlert, UpdateAlert
from domain.errors import InvalidTransition, NotFound
from tests.unit.application.harness import Mall, build_mall

CARD = "4111 1111 1111 1111"


@pytest.fixture
def mall(tmp_path: Path) -> Mall:
    return build_mall(tmp_path)


async def _opened(mall: Mall, severity: str = "warning") -> str:
    async with mall.container.uow()() as uow:
        incident_id = await open_incident(uow, "provider_failure", "provider:toss",
                                          {"error": "HTTP 503"}, severity=severity,
                                          source="toss", summary="toss keeps failing")
        await commit_and_dispatch(uow, mall.queue)
    return incident_id


def _desk(mall: Mall) -> IncidentAlerts:
    return IncidentAlerts(mall.container.uow(), mall.clock, mall.queue, timedelta(minutes=15))


async def test_the_alert_names_its_incident_and_the_follow_ups_reach_the_same_one(
    mall: Mall,
) -> None:
    incident_id = await _opened(mall)
    await mall.run_outbox()
    [trigger] = mall.alerts.alerts
    assert (trigger.incident_id, trigger.action, trigger.severity) == (incident_id, "trigger",
                                                                       "warning")
    desk = _desk(mall)
    await desk.acknowledge(incident_id, "adm_1")
    await desk.acknowledge(incident_id, "adm_1")  # nothing more is sent
    view = await desk.resolve(incident_id, "adm_1", f"card {CARD} was in the report")
    assert CARD not in view["note"]
    assert mall.db.commands(UpdateAlert) == [
        UpdateAlert(incident_id, "acknowledge", "warning", "toss", "toss keeps failing"),
        UpdateAlert(incident_id, "resolve", "warning", "toss", "toss keeps failing")]
    await mall.run_outbox()
    assert [(a.action, a.incident_id) for a in mall.alerts.alerts[1:]] == [
        ("acknowledge", incident_id), ("resolve", incident_id)]
    assert [e.kind for e in mall.db.evidence() if e.subject == "provider:toss"] == [
        "incident.acknowledged", "incident.resolved"]
    with pytest.raises(InvalidTransition):
        await desk.resolve(incident_id, "adm_2", "")
    with pytest.raises(NotFound):
        await desk.acknowledge("inc_unknown", "adm_1")


async def test_an_incident_left_unacknowledged_is_alerted_again_once_one_severity_up(
    mall: Mall,
) -> None:
    incident_id = await _opened(mall)
    acknowledged_id = await _opened(mall)
    desk = _desk(mall)
    await desk.acknowledge(acknowledged_id, "adm_1")
    assert await desk.escalate_unacknowledged() == 0
    mall.clock.advance(minutes=15)
    assert await desk.escalate_unacknowledged() == 1
    mall.clock.advance(hours=2)
    assert await desk.escalate_unacknowledged() == 0
    [escalated] = [c for c in mall.db.commands(RaiseAlert)
                   if isinstance(c, RaiseAlert) and "unacknowledged" in c.summary]
    assert escalated.severity == "critical"
    assert escalated.detail == {"incident_id": incident_id, "escalated_from": "warning"}
    [listed] = [i for i in await desk.listing("open") if i["id"] == incident_id]
    assert listed["severity"] == "critical" and listed["escalated_at"]
    assert [e.kind for e in mall.db.evidence()].count("incident.escalated") == 1
