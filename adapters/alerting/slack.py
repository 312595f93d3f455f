"""Alerts to a Slack incoming webhook: a JSON message with `text` (what notifications and
clients without blocks show) and Block Kit `blocks` (a header line and the detail).

The webhook's URL is its credential: it is kept out of the evidence. Slack answers 200 `ok`;
400 (`invalid_payload`), 403, 404 and 410 (`channel_is_archived`...) will not change on a
retry (AlertRejected); 429 and 5xx raise ProviderUnavailable, and the outbox sends the alert
again later (a post is not repeated at once: Slack keeps no key to fold a repeat into).
"""

from __future__ import annotations

import json
from typing import Any

from adapters.alerting.shape import AlertRejected, headline, key_of, safe_detail
from adapters.http import OutboundHttp
from application.ports import Alert

PROVIDER = "slack"
SECTION_LIMIT = 3000  # characters of a section block's text


def message_body(alert: Alert) -> dict[str, Any]:
    """The webhook message of `alert`."""
    text = headline(alert)
    detail = safe_detail(alert)
    shown = json.dumps(detail, ensure_ascii=False, indent=1, default=str)
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": text[:SECTION_LIMIT]}},
    ]
    if alert.action == "trigger" and detail:
        blocks.append({"type": "section", "text": {
            "type": "mrkdwn", "text": f"```{shown[:SECTION_LIMIT - 6]}```"}})
    blocks.append({"type": "context", "elements": [
        {"type": "mrkdwn", "text": f"alert key `{key_of(alert)}`"}]})
    return {"text": text, "blocks": blocks}


class SlackAlerts:
    name = PROVIDER

    def __init__(self, http: OutboundHttp, webhook_url: str) -> None:
        if not webhook_url:
            raise ValueError("the slack alert channel needs MALL_SLACK_WEBHOOK_URL")
        self._http, self._url = http, webhook_url

    async def alert(self, alert: Alert) -> None:
        response = await self._http.request(
            PROVIDER, "POST", self._url,
            subject=f"incident:{alert.incident_id}" if alert.incident_id else "alert",
            json_body=message_body(alert), idempotent=False, secret_path=True)
        if 200 <= response.status < 300:
            return
        # 429 and 5xx do not come back here: the client raises ProviderUnavailable.
        reason = response.body[:100].decode("utf-8", "replace")
        raise AlertRejected(f"slack refused the alert with HTTP {response.status}: {reason}")
