"""Alerted incidents in the domain: acknowledged once, resolved once, escalated once one
severity up when nobody acknowledged them in time; and the key every channel names an alert
by."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from domain.alerts import AlertedIncident, AlertStatus, dedup_key, one_up
from domain.errors import InvalidTransition

T0 = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
DELAY = timedelta(minutes=15)


def incident(severity: str = "warning") -> AlertedIncident:
    return AlertedIncident("inc_1", "provider_failure", "provider:stripe", severity, "stripe",
                           "stripe keeps failing", AlertStatus.OPEN, T0)


def test_the_key_is_the_incidents_own_or_a_digest_of_what_the_alert_says() -> None:
    assert dedup_key("inc_1") == "mall-inc_1"
    assert dedup_key("", "toss", "toss is failing") == dedup_key("", "toss", "toss is failing")
    assert dedup_key("", "toss", "toss is failing") != dedup_key("", "stripe", "toss is failing")
    assert len(dedup_key("", "x" * 400, "y" * 4000)) <= 255


@pytest.mark.parametrize(("severity", "up"), [("info", "warning"), ("warning", "critical"),
                                               ("error", "critical"), ("critical", "critical"),
                                               ("bogus", "critical")])
def test_one_severity_up(severity: str, up: str) -> None:
    assert one_up(severity) == up


def test_nobody_acknowledged_it_in_time_it_escalates_once() -> None:
    case = incident()
    assert not case.escalation_due(T0 + DELAY - timedelta(seconds=1), DELAY)
    assert case.escalation_due(T0 + DELAY, DELAY)
    assert case.escalate(T0 + DELAY) == "critical"
    assert (case.severity, case.escalated_at) == ("critical", T0 + DELAY)
    assert not case.escalation_due(T0 + 10 * DELAY, DELAY)
    with pytest.raises(InvalidTransition):
        case.escalate(T0 + 10 * DELAY)


def test_an_acknowledged_incident_does_not_escalate_and_acknowledging_again_changes_nothing(
) -> None:
    case = incident()
    assert case.acknowledge("adm_1", T0 + timedelta(minutes=1))
    assert not case.acknowledge("adm_2", T0 + timedelta(minutes=2))
    assert (case.status, case.acknowledged_by) == (AlertStatus.ACKNOWLEDGED, "adm_1")
    assert not case.escalation_due(T0 + 2 * DELAY, DELAY)


def test_resolved_once_then_nothing_more() -> None:
    case = incident()
    case.resolve("adm_1", "recovered", T0 + timedelta(minutes=3))
    assert (case.status, case.note, case.resolved_by) == (AlertStatus.RESOLVED, "recovered",
                                                          "adm_1")
    with pytest.raises(InvalidTransition, match="resolved already"):
        case.resolve("adm_2", "again", T0 + timedelta(minutes=4))
    with pytest.raises(InvalidTransition):
        case.acknowledge("adm_2", T0 + timedelta(minutes=4))
    assert case.note == "recovered"
    assert not case.escalation_due(T0 + 2 * DELAY, DELAY)
