"""Provider exchanges replayed from vcrpy cassettes: deterministic, no network."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import vcr

from adapters.analytics.segment import SegmentDestination
from adapters.http import OutboundHttp
from application.ports import AnalyticsEvent
from tests.helpers import NoAlerts, RecordingLedger

CASSETTES = str(Path(__file__).parent.parent / "cassettes")
RECORDED_URL = "http://127.0.0.1:18765"
CASSETTE = "segment_batch.yaml"


def segment_vcr(record_mode: str = "none") -> vcr.VCR:
    return vcr.VCR(
        cassette_library_dir=CASSETTES, record_mode=record_mode,
        match_on=["method", "scheme", "host", "port", "path", "body"],
        filter_headers=[("authorization", "Basic [filtered]")],
    )


Ledger, Alerts = RecordingLedger, NoAlerts


async def batch_once(url: str, write_key: str, when: datetime) -> Ledger:
    ledger = Ledger()
    http = OutboundHttp(ledger, Alerts(), timeout_seconds=5, retries=0, breaker_threshold=5,
                        breaker_ttl_seconds=30)
    segment = SegmentDestination(http, url, write_key, now=lambda: when)
    try:
        receipt = await segment.send_batch([AnalyticsEvent(
            "obx_0123", "Order Completed", "anon_0123456789abcdef", when,
            {"order_ref": "anon_fedcba9876543210"}, key_id="default")])
        assert receipt.refused == {} and receipt.retry == {}
    finally:
        await http.close()
    return ledger


async def test_a_segment_batch_replays_from_its_cassette() -> None:
    with segment_vcr().use_cassette(CASSETTE) as cassette:
        ledger = await batch_once(RECORDED_URL, "wk_local", datetime(2026, 11, 26, tzinfo=UTC))
        assert cassette.play_count == 1
    body = cassette.requests[0].body
    request = body if isinstance(body, dict) else json.loads(body)
    assert request == {
        "batch": [{
            "type": "track", "event": "Order Completed",
            "anonymousId": "anon_0123456789abcdef",
            "properties": {"order_ref": "anon_fedcba9876543210"},
            "timestamp": "2026-11-26T00:00:00.000+00:00", "messageId": "obx_0123",
            "context": {"library": {"name": "mall-integrations", "version": "0.1.0"},
                        "pseudonymKeyId": "default"},
            "integrations": {},
        }],
        "sentAt": "2026-11-26T00:00:00.000+00:00",
    }
    [exchange] = ledger.drafts
    assert exchange.kind == "http.exchange" and exchange.source == "segment"
    assert exchange.payload["response"]["status"] == 200


def test_the_cassette_holds_no_write_key() -> None:
    text = (Path(CASSETTES) / CASSETTE).read_text()
    assert "wk_local" not in text and "d2tfbG9jYWw" not in text  # nor its base64
    assert "Basic [filtered]" in text
