"""A Korean domestic parcel followed from the tracking number its seller handed over to
delivered, through the bus, the outbox, the webhook route and the Delivery Tracker client, on
exchanges recorded against the stand-in written from Delivery Tracker's published schema
(tests/cassettes/delivery_tracker/, see the cassettes' README): by polling, across a restart,
and by webhook. Then what a callback may not do, and following that stops on its own."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from adapters.persistence.tables import EvidenceRecord, Incident, OutboxMessage
from adapters.settings import Settings
from domain.shipments import DeliveryProblem, ShipmentStatus
from tests.fakes.clock import FakeClock
from tests.integration.delivery_tracker_journeys import (
    CARRIER,
    CLIENT_SECRET,
    HOOKED,
    POLLED,
    RECORDED_URL,
    T0,
    TOKEN,
    delivery_tracker_vcr,
    polling_journey,
    running_shop,
    shop_settings,
    webhook_journey,
)
from tests.integration.delivery_tracker_standin import Parcel, StandIn, application, event

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def database_url(engine_name: str, request: pytest.FixtureRequest) -> str:
    """The journeys on each engine: SQLite, and PostgreSQL when it answers."""
    return str(request.getfixturevalue("postgres_database")) if engine_name == "postgres" else ""


def _at(value: Any) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(value)


def _kept_text(evidence: list[dict[str, Any]]) -> str:
    return json.dumps(evidence, ensure_ascii=False, default=str)


async def test_polling_takes_a_parcel_from_its_number_to_delivered_across_a_restart(
        tmp_path: Path, database_url: str) -> None:
    settings = shop_settings(tmp_path, RECORDED_URL, webhooks=False, database_url=database_url)
    with delivery_tracker_vcr("none").use_cassette("delivery_tracker_polling.yaml") as played:
        outcome = await polling_journey(settings)
    assert played.all_played, "not every recorded exchange was asked for"
    # Unknown to the carrier, scanned, no news, out for delivery, a failed attempt, delivered;
    # the last three looks were scheduled by the first process and sent by the second.
    assert outcome["statuses"] == ["created", "created", "created", "out_for_delivery",
                                   "exception", "delivered"]
    shipment = outcome["shipment"]
    assert shipment.status == ShipmentStatus.DELIVERED
    assert shipment.history == ["in_transit", "out_for_delivery", "exception",
                                "out_for_delivery", "delivered"]
    # Every event of the tracker's list, not only the last of each look: the fourth look
    # brought two (in transit, out for delivery), the last two (out again, delivered). Those
    # that move nothing (picked up, for a parcel already created) are not kept.
    assert [m.status.value for m in shipment.marks] == shipment.history
    [failed] = [m for m in shipment.marks if m.status == ShipmentStatus.EXCEPTION]
    assert (failed.problem, failed.detail) == (DeliveryProblem.FAILED_ATTEMPT, "수취인 부재")
    assert outcome["order_status"] == "delivered"


async def test_the_waits_grow_without_news_and_stop_at_delivered(tmp_path: Path) -> None:
    settings = shop_settings(tmp_path, RECORDED_URL, webhooks=False)
    with delivery_tracker_vcr("none").use_cassette("delivery_tracker_polling.yaml"):
        outcome = await polling_journey(settings)
    # Three looks without news (10, 20, 40 minutes at most), then news each time (10 again);
    # each wait drawn between half and all of its ceiling.
    ceilings = [timedelta(minutes=m) for m in (10, 20, 40, 10, 10)]
    assert len(outcome["waits"]) == len(ceilings)
    for wait, ceiling in zip(outcome["waits"], ceilings, strict=True):
        assert ceiling / 2 <= wait <= ceiling, (wait, ceiling)
    watch = outcome["watch"]
    assert (watch["status"], watch["next_check_at"]) == ("finished", None)
    assert outcome["after_final"] == 0  # sixty days later, nothing is due


async def test_every_look_is_evidence_without_personal_data(tmp_path: Path) -> None:
    settings = shop_settings(tmp_path, RECORDED_URL, webhooks=True)
    with delivery_tracker_vcr("none").use_cassette("delivery_tracker_webhook.yaml"):
        outcome = await webhook_journey(settings)
    evidence = [e for e in outcome["evidence"] if e["source"] == "delivery-tracker"]
    kinds = [e["kind"] for e in evidence]
    assert kinds.count("http.exchange") == 7 and kinds.count("tracking.read") == 5
    assert kinds.count("tracking.webhook_registered") == 2
    assert kinds.count("webhook.received") == 4
    text = _kept_text(evidence)
    assert TOKEN not in text and CLIENT_SECRET not in text
    assert "[withheld: personal data]" in text and "Ada Lovelace" not in text
    registered = [json.loads(e["payload"]) for e in evidence
                  if e["kind"] == "tracking.webhook_registered"]
    assert [r["expires_at"] for r in registered] == [
        (T0 + timedelta(hours=48)).isoformat(), (T0 + timedelta(hours=72)).isoformat()]


async def test_a_webhook_takes_a_parcel_from_its_number_to_delivered(
        tmp_path: Path, database_url: str) -> None:
    settings = shop_settings(tmp_path, RECORDED_URL, webhooks=True, database_url=database_url)
    with delivery_tracker_vcr("none").use_cassette("delivery_tracker_webhook.yaml") as played:
        outcome = await webhook_journey(settings)
    assert played.all_played, "not every recorded exchange was asked for"
    accepted = "callback (200, {'status': 'accepted'})"
    assert outcome["steps"] == [("handed over", "created"), (accepted, "created"),
                                (accepted, "in_transit"), ("renewal sent 1", "out_for_delivery"),
                                (accepted, "delivered")]
    # Registered for 48 hours at hand-over, no polling meanwhile: the next look is when half
    # of that is gone, and then the registration is extended.
    first, extended = outcome["first"], outcome["extended"]
    assert _at(first["webhook_expires_at"]) == T0 + timedelta(hours=48)
    assert _at(first["next_check_at"]) == T0 + timedelta(hours=24)
    assert _at(extended["webhook_expires_at"]) == T0 + timedelta(hours=72)
    # A callback after delivery is acknowledged and asks the tracker nothing more.
    assert outcome["late"] == (200, {"status": "accepted"})
    assert outcome["watch"]["status"] == "finished"
    shipment = outcome["shipment"]
    assert shipment.history == ["in_transit", "out_for_delivery", "delivered"]
    assert [m.status.value for m in shipment.marks] == shipment.history
    assert outcome["order_status"] == "delivered"


async def test_a_callback_with_a_wrong_token_is_404_and_leaves_nothing(tmp_path: Path) -> None:
    settings = shop_settings(tmp_path, RECORDED_URL, webhooks=True)
    with delivery_tracker_vcr("none").use_cassette("no_exchange_expected.yaml"):
        async with running_shop(settings, FakeClock(T0)) as shop:
            wrong = TOKEN[:-1] + ("x" if TOKEN[-1] != "x" else "y")
            response = await shop.client.post(
                f"/v1/webhooks/delivery-tracker/{wrong}",
                json={"carrierId": CARRIER, "trackingNumber": POLLED})
            assert response.status == 404
            assert response.content_type == "application/problem+json"
            problem = await response.json()
            assert "no Delivery Tracker callback is expected at this address" in problem["detail"]
            assert await EvidenceRecord.count() == 0 and await OutboxMessage.count() == 0


async def test_without_a_token_no_callback_is_accepted(tmp_path: Path) -> None:
    settings = shop_settings(tmp_path, RECORDED_URL, webhooks=False,
                             delivery_tracker_webhook_token="")
    with delivery_tracker_vcr("none").use_cassette("no_exchange_expected.yaml"):
        async with running_shop(settings, FakeClock(T0)) as shop:
            response = await shop.client.post(
                "/v1/webhooks/delivery-tracker/anything",
                json={"carrierId": CARRIER, "trackingNumber": POLLED})
            assert response.status == 404


async def test_a_callback_for_a_parcel_we_do_not_know_is_recorded_and_ignored(
        tmp_path: Path) -> None:
    settings = shop_settings(tmp_path, RECORDED_URL, webhooks=True)
    with delivery_tracker_vcr("none").use_cassette("no_exchange_expected.yaml"):
        async with running_shop(settings, FakeClock(T0)) as shop:
            unknown = await shop.call_back(HOOKED)
            elsewhere = await shop.call_back("1Z999AA10123456784", carrier="us.ups")
            garbled = await shop.client.post(f"/v1/webhooks/delivery-tracker/{TOKEN}",
                                             data=b"{not json",
                                             headers={"Content-Type": "application/json"})
            assert unknown == elsewhere == (200, {"status": "ignored"})
            assert garbled.status == 400
            rows = await EvidenceRecord.select(EvidenceRecord.kind, EvidenceRecord.context,
                                               EvidenceRecord.payload)
            assert [(r["kind"], json.loads(r["context"])["outcome"]) for r in rows] == [
                ("webhook.received", "ignored")] * 2
            assert json.loads(rows[0]["payload"]) == {"carrier_id": CARRIER,
                                                      "tracking_number": HOOKED}
            assert await OutboxMessage.count() == 0  # nothing to look at


def test_a_webhook_base_url_needs_an_unguessable_token(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="MALL_DELIVERY_TRACKER_WEBHOOK_TOKEN"):
        Settings(_env_file=None,
                 delivery_tracker_webhook_base_url="https://mall.example",
                 delivery_tracker_webhook_token="short")
    with pytest.raises(ValueError, match="FIRST_POLL_MINUTES"):
        Settings(_env_file=None,
                 delivery_tracker_first_poll_minutes=600, delivery_tracker_longest_poll_hours=1)


# Against the live stand-in: what the recorded journeys do not show.

async def test_an_unavailable_tracker_is_asked_again_later(tmp_path: Path,
                                                           aiohttp_server: Any) -> None:
    stand_in = StandIn(parcels={f"{CARRIER}/{POLLED}": Parcel(http_status=503)}, now=lambda: T0)
    server = await aiohttp_server(application(stand_in))
    settings = shop_settings(tmp_path, str(server.make_url("/graphql")), webhooks=False)
    clock = FakeClock(T0)
    async with running_shop(settings, clock) as shop:
        shipment_id = await shop.hand_over(POLLED)
        watch = await shop.watch(shipment_id)
        assert (watch["status"], watch["quiet_checks"]) == ("following", 1)
        assert T0 + timedelta(minutes=5) <= _at(watch["next_check_at"]) <= T0 + timedelta(
            minutes=10)
        stand_in.parcels[f"{CARRIER}/{POLLED}"] = Parcel([
            event("AT_PICKUP", "2026-11-30T09:30:00+09:00"),
            event("DELIVERED", "2026-11-30T10:00:00+09:00")])
        assert await shop.next_scheduled_look(shipment_id) == 1
        assert await shop.status(shipment_id) == "delivered"
        assert (await shop.watch(shipment_id))["status"] == "finished"


async def test_a_webhook_that_cannot_be_registered_leaves_the_parcel_polled(
        tmp_path: Path, aiohttp_server: Any) -> None:
    stand_in = StandIn(parcels={f"{CARRIER}/{HOOKED}": Parcel(
        [event("IN_TRANSIT", "2026-11-30T09:30:00+09:00")])}, now=lambda: T0,
        webhooks_failing=True)
    server = await aiohttp_server(application(stand_in))
    settings = shop_settings(tmp_path, str(server.make_url("/graphql")), webhooks=True)
    async with running_shop(settings, FakeClock(T0)) as shop:
        shipment_id = await shop.hand_over(HOOKED)
        watch = await shop.watch(shipment_id)
        assert watch["webhook_expires_at"] is None and stand_in.webhooks == {}
        assert _at(watch["next_check_at"]) <= T0 + timedelta(minutes=10)
        assert await shop.status(shipment_id) == "in_transit"
        stand_in.webhooks_failing = False
        await shop.next_scheduled_look(shipment_id)  # registers it this time
        now = shop.clock.now()
        watch = await shop.watch(shipment_id)
        assert _at(watch["webhook_expires_at"]) == now + timedelta(hours=48)
        assert _at(watch["next_check_at"]) == now + timedelta(hours=24)
        [(key, hook)] = stand_in.webhooks.items()
        assert key == f"{CARRIER}/{HOOKED}" and hook.expires_at == now + timedelta(hours=48)
        assert hook.callback_url == f"https://mall.example/v1/webhooks/delivery-tracker/{TOKEN}"


async def test_a_parcel_never_delivered_is_given_up_and_operators_told(
        tmp_path: Path, aiohttp_server: Any) -> None:
    stand_in = StandIn(parcels={f"{CARRIER}/{POLLED}": Parcel(
        [event("IN_TRANSIT", "2026-11-30T09:30:00+09:00")])}, now=lambda: T0)
    server = await aiohttp_server(application(stand_in))
    settings = shop_settings(tmp_path, str(server.make_url("/graphql")), webhooks=False,
                             delivery_tracker_follow_days=2)
    async with running_shop(settings, FakeClock(T0)) as shop:
        shipment_id = await shop.hand_over(POLLED)
        looks = 0
        while (await shop.watch(shipment_id))["status"] == "following":
            await shop.next_scheduled_look(shipment_id)
            looks += 1
            assert looks < 30, "following never stopped"
        watch = await shop.watch(shipment_id)
        assert watch["status"] == "abandoned" and "2 days" in watch["reason"]
        # The last look came at the bound, not after it; no look is due any more.
        assert shop.clock.now() == T0 + timedelta(days=2)
        assert await shop.container.parcel_tracking().send_due_looks() == 0
        [incident] = await Incident.select(Incident.kind, Incident.subject)
        assert incident == {"kind": "parcel_abandoned", "subject": f"shipment:{shipment_id}"}
        assert await shop.status(shipment_id) == "in_transit"


async def test_a_refused_number_stops_following_with_an_incident(
        tmp_path: Path, aiohttp_server: Any) -> None:
    stand_in = StandIn(parcels={f"{CARRIER}/{POLLED}": Parcel(error="BAD_REQUEST")},
                       now=lambda: T0)
    server = await aiohttp_server(application(stand_in))
    settings = shop_settings(tmp_path, str(server.make_url("/graphql")), webhooks=False)
    async with running_shop(settings, FakeClock(datetime(2026, 11, 30, tzinfo=UTC))) as shop:
        shipment_id = await shop.hand_over(POLLED)
        watch = await shop.watch(shipment_id)
        assert watch["status"] == "refused" and watch["next_check_at"] is None
        assert "refused kr.cjlogistics tracking number" in watch["reason"]
        [incident] = await Incident.select(Incident.kind)
        assert incident["kind"] == "parcel_refused"


def test_the_cassettes_keep_no_secret_and_no_phone_number() -> None:
    from tests.integration.delivery_tracker_journeys import CASSETTES

    cassettes = sorted(CASSETTES.glob("*.yaml"))
    assert [c.name for c in cassettes] == ["delivery_tracker_polling.yaml",
                                           "delivery_tracker_webhook.yaml"]
    for cassette in cassettes:
        text = cassette.read_text()
        assert TOKEN not in text and CLIENT_SECRET not in text, cassette.name
        assert text.count("TRACKQL-API-KEY [filtered]") == text.count("Authorization:")
        assert not re.search(r"\b01[016789][- ]?\d{3,4}[- ]?\d{4}\b", text), cassette.name
        assert "phoneNumber" not in text and "recipient" not in text
