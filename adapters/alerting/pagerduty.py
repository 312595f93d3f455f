"""Alerts to PagerDuty's Events API v2 (`POST /v2/enqueue`).

Each alert is an event for the integration's routing key: `trigger` with a payload (summary,
source, severity, timestamp, component, group, class, custom details), `acknowledge` and
`resolve` with the deduplication key alone, as PagerDuty's own Python client sends them. The
key is derived from the incident's id, so the incident's resolution resolves the alert its
trigger opened, and a trigger sent twice updates one alert instead of opening two.

PagerDuty answers 202 when it took the event; 400 when the event is invalid (never retried:
AlertRejected); 429 and 5xx are retried by the HTTP client, then ProviderUnavailable.
"""

from __future__ import annotations

from typing import Any

from adapters.alerting.shape import AlertRejected, key_of, safe_detail, safe_summary
from adapters.http import OutboundHttp
from application.ports import Alert, Clock
from domain.alerts import AlertAction, known_severity

PROVIDER = "pagerduty"
ACTIONS = frozenset(action.value for action in AlertAction)
GROUP = "mall-integrations"  # payload.group: the logical group of the affected components


def event_body(alert: Alert, routing_key: str, timestamp: str) -> dict[str, Any]:
    """The Events API v2 body of `alert`."""
    body: dict[str, Any] = {"event_action": alert.action, "dedup_key": key_of(alert),
                            "routing_key": routing_key}
    if alert.action == AlertAction.TRIGGER:
        detail = safe_detail(alert)
        body["payload"] = {
            "summary": safe_summary(alert),
            "source": alert.source,
            "severity": known_severity(alert.severity),
            "timestamp": timestamp,
            "component": alert.source,
            "group": GROUP,
            "class": str(detail.get("kind") or "incident"),
            "custom_details": detail,
        }
    return body


class PagerDutyAlerts:
    name = PROVIDER

    def __init__(self, http: OutboundHttp, clock: Clock, routing_key: str,
                 base_url: str = "https://events.pagerduty.com") -> None:
        if not routing_key:
            raise ValueError("the pagerduty alert channel needs MALL_PAGERDUTY_ROUTING_KEY")
        self._http, self._clock, self._key = http, clock, routing_key
        self._url = base_url.rstrip("/") + "/v2/enqueue"

    async def alert(self, alert: Alert) -> None:
        if alert.action not in ACTIONS:
            raise ValueError(f"not an Events API action: {alert.action!r}")
        body = event_body(alert, self._key, self._clock.now().isoformat())
        response = await self._http.request(
            PROVIDER, "POST", self._url, subject=_subject(alert), json_body=body,
            # The dedup key makes a repeat harmless: PagerDuty folds it into the same alert.
            idempotent=True, secret_fields=("routing_key",))
        if 200 <= response.status < 300:  # 202: PagerDuty took the event
            return
        answer = response.json_object() or {}
        reason = f"{answer.get('message', '')} {answer.get('errors', '')}".strip()
        # 429 and 5xx do not come back here: the client retries them, then raises
        # ProviderUnavailable.
        raise AlertRejected(f"pagerduty refused the {alert.action} event with HTTP "
                            f"{response.status}: {reason[:300]}")


def _subject(alert: Alert) -> str:
    return f"incident:{alert.incident_id}" if alert.incident_id else f"alert:{alert.source}"
