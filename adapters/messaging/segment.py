"""Analytics to a Segment-compatible HTTP tracking API (`POST /v1/track`, basic auth with the
write key as user name)."""

from __future__ import annotations

import base64

from adapters.http import OutboundHttp
from application.ports import AnalyticsEvent
from domain.errors import ProviderUnavailable


class SegmentAnalyticsSink:
    def __init__(self, http: OutboundHttp, base_url: str, write_key: str) -> None:
        self._http, self._url = http, base_url.rstrip("/") + "/v1/track"
        token = base64.b64encode(f"{write_key}:".encode()).decode()
        self._auth = f"Basic {token}"

    async def track(self, event: AnalyticsEvent) -> None:
        response = await self._http.request(
            "segment", "POST", self._url, subject="analytics",
            json_body={
                "anonymousId": event.anonymous_id, "event": event.name,
                "properties": event.properties, "timestamp": event.occurred_at.isoformat(),
                "messageId": event.message_id,
            },
            # Segment dedupes on messageId, so a retry cannot count an event twice.
            headers={"Authorization": self._auth}, idempotent=True,
        )
        if response.status >= 400:
            raise ProviderUnavailable(f"segment refused the event with HTTP {response.status}")
