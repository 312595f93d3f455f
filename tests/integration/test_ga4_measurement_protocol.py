"""GA4's Measurement Protocol against a stand-in holding requests to the documented format:
measurement id and API secret in the query, a pseudonymous client id, at most 25 events a
request, names and parameters by GA4's rules; the API secret kept out of the evidence."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from adapters.analytics.ga4 import Ga4Destination, ga4_name, name_problem
from adapters.http import OutboundHttp
from application.ports import AnalyticsEvent
from tests.helpers import NoAlerts, RecordingLedger
from tests.integration.analytics_standins import Ga4StandIn

MEASUREMENT_ID, API_SECRET = "G-TEST123", "mp_secret_0123456789"


@dataclass
class Setup:
    stand_in: Ga4StandIn
    ga4: Ga4Destination
    ledger: RecordingLedger


def event(n: int, client: str = "anon_client_1", name: str = "Checkout Started",
          age: timedelta = timedelta(minutes=1), **properties: Any) -> AnalyticsEvent:
    return AnalyticsEvent(f"obx_{n:04x}", name, client, datetime.now(UTC) - age,
                          properties or {"item_count": 2, "currency": "KRW"}, key_id="k1")


@pytest.fixture
async def ga4(aiohttp_server: Any) -> AsyncIterator[Setup]:
    stand_in = Ga4StandIn(MEASUREMENT_ID, API_SECRET)
    server = await aiohttp_server(stand_in.application())
    ledger = RecordingLedger()
    http = OutboundHttp(ledger, NoAlerts(), timeout_seconds=5, retries=1,
                        breaker_threshold=50, breaker_ttl_seconds=30)
    yield Setup(stand_in, Ga4Destination(http, str(server.make_url("")), MEASUREMENT_ID,
                                         API_SECRET), ledger)
    await http.close()


async def test_events_go_per_client_id_in_the_documented_format(ga4: Setup) -> None:
    events = [event(1), event(2, client="anon_client_2"), event(3, name="Order Placed")]
    receipt = await ga4.ga4.send_batch(events)
    assert receipt.refused == {} and receipt.retry == {}
    assert ga4.stand_in.violations == []
    first, second = ga4.stand_in.bodies
    assert first["client_id"] == "anon_client_1" and second["client_id"] == "anon_client_2"
    assert [e["name"] for e in first["events"]] == ["checkout_started", "order_placed"]
    assert first["events"][0]["params"] == {"item_count": 2, "currency": "KRW",
                                            "pseudonym_key_id": "k1"}
    expected = int(events[0].occurred_at.timestamp() * 1_000_000)
    assert first["events"][0]["timestamp_micros"] == expected


async def test_at_most_25_events_go_in_one_request(ga4: Setup) -> None:
    await ga4.ga4.send_batch([event(n) for n in range(60)])
    assert [len(body["events"]) for body in ga4.stand_in.bodies] == [25, 25, 10]
    assert ga4.stand_in.violations == []


@pytest.mark.parametrize(("name", "properties", "why"), [
    ("Session Start", {}, "event name GA4 reserves"),
    ("A" * 41, {}, "letters, digits and underscores"),
    ("9 Lives", {}, "letters, digits and underscores"),
    ("Checkout Started", {"ga_session": "x"}, "prefix GA4 reserves"),
    ("Checkout Started", {"code": "x" * 101}, "over 100 characters"),
    ("Checkout Started", {f"p{n}": n for n in range(25)}, "at most 25"),
])
async def test_what_ga4_would_drop_is_refused_before_sending(
        ga4: Setup, name: str, properties: dict[str, Any], why: str) -> None:
    bad = event(1, name=name, **properties)
    receipt = await ga4.ga4.send_batch([bad, event(2)])
    assert why in receipt.refused[bad.message_id]
    assert [e["name"] for e in ga4.stand_in.events] == ["checkout_started"]
    assert ga4.stand_in.violations == []


async def test_an_event_older_than_72_hours_is_refused(ga4: Setup) -> None:
    receipt = await ga4.ga4.send_batch([event(1, age=timedelta(hours=73))])
    assert "72 hours" in receipt.refused["obx_0001"]
    assert ga4.stand_in.requests == 0


async def test_a_failed_request_leaves_its_events_and_the_unsent_ones_to_retry(
        ga4: Setup) -> None:
    ga4.stand_in.fail_next = [503]
    events = [event(1), event(2, client="anon_client_2")]
    receipt = await ga4.ga4.send_batch(events)
    assert sorted(receipt.retry) == ["obx_0001", "obx_0002"]
    assert ga4.stand_in.requests == 1  # sent once: GA4 has no dedupe key


async def test_the_api_secret_is_not_in_the_evidence(ga4: Setup) -> None:
    await ga4.ga4.send_batch([event(1)])
    [draft] = ga4.ledger.drafts
    assert API_SECRET not in str(draft.payload) and API_SECRET not in str(draft.context)
    assert draft.payload["request"]["path"] == "/mp/collect"


async def test_an_unreachable_ga4_is_retried_later_without_its_secret_anywhere(
        unused_tcp_port: int) -> None:
    ledger = RecordingLedger()
    http = OutboundHttp(ledger, NoAlerts(), timeout_seconds=2, retries=0,
                        breaker_threshold=50, breaker_ttl_seconds=30)
    ga4 = Ga4Destination(http, f"http://127.0.0.1:{unused_tcp_port}", MEASUREMENT_ID,
                         API_SECRET)
    try:
        receipt = await ga4.send_batch([event(1)])
    finally:
        await http.close()
    assert list(receipt.retry) == ["obx_0001"]
    assert API_SECRET not in str(receipt) and API_SECRET not in str(ledger.drafts)


def test_names_follow_ga4_s_spelling() -> None:
    assert ga4_name("Order Placed") == "order_placed"
    assert ga4_name("itemCount") == "item_count"
    assert name_problem("order_placed", event=True) == ""
    assert "reserves" in name_problem("first_visit", event=True)


def test_a_ga4_destination_needs_its_ids() -> None:
    with pytest.raises(ValueError, match="MALL_GA4_API_SECRET"):
        Ga4Destination(None, "http://x", MEASUREMENT_ID, "")  # type: ignore[arg-type]
