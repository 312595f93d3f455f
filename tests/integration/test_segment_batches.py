"""Segment in batches against a stand-in holding requests to the HTTP Tracking API's format,
and against Segment's own Python library (segment-analytics-python): pointed at the same
stand-in, it shows the batch Segment expects, and ours matches it field for field."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from segment.analytics.client import Client  # type: ignore[import-untyped]

from adapters.analytics.segment import MAX_EVENT_BYTES, SegmentDestination, track_call
from adapters.http import OutboundHttp
from application.ports import AnalyticsEvent
from tests.helpers import NoAlerts, RecordingLedger
from tests.integration.analytics_standins import SegmentStandIn

WRITE_KEY = "wk_test_0123456789"
AT = datetime(2026, 12, 2, 9, 30, 15, 123000, tzinfo=UTC)


@dataclass
class Setup:
    stand_in: SegmentStandIn
    segment: SegmentDestination
    base_url: str
    http: OutboundHttp
    ledger: RecordingLedger


def event(n: int = 1, **properties: Any) -> AnalyticsEvent:
    return AnalyticsEvent(f"obx_{n:04x}", "Order Placed", f"anon_{n:032x}", AT,
                          properties or {"order_ref": "anon_ab", "total_minor": 39000,
                                         "currency": "KRW"}, key_id="k1")


@pytest.fixture
async def segment(aiohttp_server: Any) -> AsyncIterator[Setup]:
    stand_in = SegmentStandIn(WRITE_KEY)
    server = await aiohttp_server(stand_in.application())
    ledger = RecordingLedger()
    http = OutboundHttp(ledger, NoAlerts(), timeout_seconds=5, retries=1,
                        breaker_threshold=50, breaker_ttl_seconds=30)
    base = str(server.make_url("")).rstrip("/")
    yield Setup(stand_in, SegmentDestination(http, base, WRITE_KEY), base, http, ledger)
    await http.close()


async def test_events_go_as_one_track_batch_with_basic_auth(segment: Setup) -> None:
    receipt = await segment.segment.send_batch([event(1), event(2)])
    assert receipt.refused == {} and receipt.retry == {}
    assert segment.stand_in.violations == []
    [batch] = segment.stand_in.batches
    assert [call["messageId"] for call in batch["batch"]] == ["obx_0001", "obx_0002"]
    first = batch["batch"][0]
    assert first["type"] == "track" and first["event"] == "Order Placed"
    assert first["anonymousId"] == f"anon_{1:032x}"
    assert first["timestamp"] == "2026-12-02T09:30:15.123+00:00"
    assert first["context"]["library"]["name"] == "mall-integrations"
    assert first["context"]["pseudonymKeyId"] == "k1"
    assert "writeKey" not in batch  # the key travels only in the Authorization header


async def test_our_batch_matches_the_official_library_s_field_for_field(
        segment: Setup) -> None:
    ours = event(7)
    await segment.segment.send_batch([ours])
    client = Client(WRITE_KEY, host=segment.base_url, sync_mode=True, max_retries=0)
    # The library posts with a blocking HTTP client: off the loop the stand-in runs on.
    await asyncio.to_thread(
        client.track, anonymous_id=ours.anonymous_id, event=ours.name,
        properties=ours.properties, timestamp=ours.occurred_at, message_id=ours.message_id)
    assert segment.stand_in.violations == []
    mine, theirs = segment.stand_in.batches
    # The body: the same members, but for the write key the library repeats in it.
    assert set(mine) == set(theirs) - {"writeKey"}
    [our_call], [their_call] = mine["batch"], theirs["batch"]
    documented = {k: v for k, v in their_call.items() if v is not None}
    assert set(our_call) == set(documented), "every member Segment's library sends, no more"
    for member, value in documented.items():
        if member == "context":
            # The library names itself; we name ourselves, and the key of our ids.
            assert set(value["library"]) == set(our_call["context"]["library"]) == {
                "name", "version"}
            continue
        assert our_call[member] == value, member
    assert client.write_key == WRITE_KEY


async def test_an_event_over_32_kb_is_refused_and_the_rest_sent(segment: Setup) -> None:
    huge = event(9, blob="x" * MAX_EVENT_BYTES)
    receipt = await segment.segment.send_batch([event(1), huge, event(2)])
    assert list(receipt.refused) == [huge.message_id]
    assert "32768" in receipt.refused[huge.message_id]
    assert [call["messageId"] for call in segment.stand_in.calls] == ["obx_0001", "obx_0002"]


async def test_a_batch_over_500_kb_is_split(segment: Setup) -> None:
    events = [event(n, blob="y" * 30_000) for n in range(40)]  # ~1.2 MB in all
    receipt = await segment.segment.send_batch(events)
    assert receipt.refused == {} and segment.stand_in.violations == []
    assert len(segment.stand_in.batches) == 3
    assert [c["messageId"] for c in segment.stand_in.calls] == [e.message_id for e in events]


async def test_a_5xx_or_a_429_is_retried_later_and_a_400_is_not(segment: Setup) -> None:
    segment.stand_in.fail_next = [503, 503]  # the client's own quick retry fails too
    receipt = await segment.segment.send_batch([event(1)])
    assert list(receipt.retry) == ["obx_0001"] and receipt.refused == {}
    segment.stand_in.fail_next = [429, 429]
    receipt = await segment.segment.send_batch([event(1)])
    assert list(receipt.retry) == ["obx_0001"]
    segment.stand_in.fail_next = [400]
    receipt = await segment.segment.send_batch([event(1)])
    assert list(receipt.refused) == ["obx_0001"] and receipt.retry == {}
    assert segment.stand_in.requests == 5  # a 400 is not sent again


async def test_a_wrong_write_key_sets_the_events_aside(segment: Setup) -> None:
    wrong = SegmentDestination(segment.http, segment.base_url, "wk_wrong")
    receipt = await wrong.send_batch([event(1)])
    assert "HTTP 401" in receipt.refused["obx_0001"]


async def test_the_evidence_keeps_no_write_key(segment: Setup) -> None:
    await segment.segment.send_batch([event(1)])
    token = base64.b64encode(f"{WRITE_KEY}:".encode()).decode()
    [draft] = segment.ledger.drafts
    _, stored, _ = draft.redacted()  # what the ledger keeps
    assert WRITE_KEY not in str(stored) and token not in str(stored)
    assert stored["request"]["body"]["batch"][0]["messageId"] == "obx_0001"


def test_a_segment_destination_needs_a_write_key() -> None:
    with pytest.raises(ValueError, match="MALL_SEGMENT_WRITE_KEY"):
        SegmentDestination(None, "http://x", "")  # type: ignore[arg-type]


def test_timestamps_are_utc_with_milliseconds() -> None:
    seoul = AnalyticsEvent("m", "Order Placed", "anon_1", AT.astimezone(ZoneInfo("Asia/Seoul")))
    assert track_call(seoul)["timestamp"] == "2026-12-02T09:30:15.123+00:00"
