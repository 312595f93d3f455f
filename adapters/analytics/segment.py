"""Segment's HTTP Tracking API in batches: `POST {base}/v1/batch`, the write key as the Basic
auth user name (empty password), each event a `track` call with its `messageId`, on which
Segment dedupes a batch sent twice.

Segment takes at most 32 KB per call and 500 KB per batch request: a larger event is refused
(set aside, logged by id), and the others are split into as many requests as the limit needs.
A 5xx or a 429 is tried again later (after the client's own quick retries); any other 4xx
says the batch is malformed or the key wrong, so its events are set aside as dead letters
for an operator to replay once the cause is fixed.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from adapters.analytics import send_in_order
from adapters.http import OutboundHttp
from application.ports import AnalyticsEvent
from application.ports.analytics import BatchReceipt
from domain.errors import ProviderUnavailable

MAX_EVENT_BYTES = 32 * 1024
MAX_BATCH_BYTES = 500 * 1024
LIBRARY = {"name": "mall-integrations", "version": "0.1.0"}


def _timestamp(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds")


def track_call(event: AnalyticsEvent) -> dict[str, Any]:
    """One event as Segment's `track` call."""
    context: dict[str, Any] = {"library": LIBRARY}
    if event.key_id:
        context["pseudonymKeyId"] = event.key_id  # ids under another key are not linkable
    return {"type": "track", "event": event.name, "anonymousId": event.anonymous_id,
            "properties": event.properties, "timestamp": _timestamp(event.occurred_at),
            "messageId": event.message_id, "context": context, "integrations": {}}


def _size(value: Any) -> int:
    return len(json.dumps(value, separators=(",", ":")).encode())


def batches(events: Sequence[AnalyticsEvent], sent_at: datetime,
            max_batch_bytes: int = MAX_BATCH_BYTES,
            ) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """The request bodies carrying `events` within Segment's limits, and the events refused
    (by message id, with why)."""
    refused: dict[str, str] = {}
    bodies: list[dict[str, Any]] = []
    empty = {"batch": [], "sentAt": _timestamp(sent_at)}
    overhead = _size(empty)
    current: list[dict[str, Any]] = []
    size = overhead
    for event in events:
        call = track_call(event)
        call_size = _size(call)
        if call_size > MAX_EVENT_BYTES:
            refused[event.message_id] = (f"{call_size} bytes: Segment takes at most "
                                         f"{MAX_EVENT_BYTES} per event")
            continue
        if current and size + call_size + 1 > max_batch_bytes:
            bodies.append({**empty, "batch": current})
            current, size = [], overhead
        current.append(call)
        size += call_size + (1 if len(current) > 1 else 0)
    if current:
        bodies.append({**empty, "batch": current})
    return bodies, refused


class SegmentDestination:
    """Sends batches of track calls to Segment (or a Segment-compatible service)."""

    name = "segment"
    batch_size = 100

    def __init__(self, http: OutboundHttp, base_url: str, write_key: str,
                 max_batch_bytes: int = MAX_BATCH_BYTES,
                 now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        if not write_key:
            raise ValueError("segment is an analytics provider: set MALL_SEGMENT_WRITE_KEY")
        self._http, self._url = http, base_url.rstrip("/") + "/v1/batch"
        token = base64.b64encode(f"{write_key}:".encode()).decode()
        self._auth = f"Basic {token}"
        self._max_batch_bytes, self._now = max_batch_bytes, now  # `now` stamps sentAt

    async def send_batch(self, events: Sequence[AnalyticsEvent]) -> BatchReceipt:
        bodies, refused = batches(events, self._now(), self._max_batch_bytes)
        return await send_in_order(
            [(body, [call["messageId"] for call in body["batch"]]) for body in bodies],
            self._post, refused)

    async def _post(self, body: dict[str, Any]) -> str:
        """"" when Segment took the batch; else "retry: ..." or why it refused it."""
        try:
            response = await self._http.request(
                "segment", "POST", self._url, subject="analytics", json_body=body,
                # Segment dedupes on messageId, so a repeated batch counts each event once.
                headers={"Authorization": self._auth}, idempotent=True)
        except ProviderUnavailable as exc:
            return f"retry: {exc.detail}"
        if response.status >= 500 or response.status in (408, 429):
            return f"retry: segment answered HTTP {response.status}"
        if response.status >= 400:
            return f"segment refused the batch with HTTP {response.status}"
        return ""
