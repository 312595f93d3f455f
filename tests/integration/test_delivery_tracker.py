"""The Delivery Tracker client against a stand-in written from the published schema (see
delivery_tracker_standin.py; not recorded from the real API): every status code in our words,
"not registered yet", refusals and failures in our taxonomy, and no personal data in evidence."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest

import bootstrap
from adapters.http import OutboundHttp
from adapters.shipping.delivery_tracker import PHONE_PLACEHOLDER, DeliveryTrackerClient
from domain.errors import DomainError, ProviderUnavailable
from domain.shipments import Shipment, ShipmentStatus
from tests.helpers import NoAlerts, RecordingLedger
from tests.integration.delivery_tracker_standin import Parcel, StandIn, application, event

CJ = "kr.cjlogistics"
NUMBER = "607123456789"
T0, T1 = "2026-11-30T09:00:00+09:00", "2026-12-01T14:30:00+09:00"


@dataclass
class Setup:
    stand_in: StandIn
    client: DeliveryTrackerClient
    ledger: RecordingLedger


@pytest.fixture
async def tracker(aiohttp_server: Any) -> AsyncIterator[Setup]:
    stand_in = StandIn()
    server = await aiohttp_server(application(stand_in))
    ledger = RecordingLedger()
    http = OutboundHttp(ledger, NoAlerts(), timeout_seconds=5, retries=2, breaker_threshold=50,
                        breaker_ttl_seconds=30)
    client = DeliveryTrackerClient(http, ledger, "test-client", "test-secret",
                                   str(server.make_url("/graphql")))
    yield Setup(stand_in, client, ledger)
    await http.close()
    assert stand_in.invalid == [], "the client sent a query the schema does not allow"


# code: (our status, detail), None when the event moves nothing
MAPPING: dict[str, tuple[ShipmentStatus, str] | None] = {
    "UNKNOWN": None,
    "INFORMATION_RECEIVED": (ShipmentStatus.CREATED, ""),
    "AT_PICKUP": (ShipmentStatus.CREATED, ""),
    "IN_TRANSIT": (ShipmentStatus.IN_TRANSIT, ""),
    "OUT_FOR_DELIVERY": (ShipmentStatus.OUT_FOR_DELIVERY, ""),
    "ATTEMPT_FAIL": (ShipmentStatus.EXCEPTION, "수취인 부재"),
    "DELIVERED": (ShipmentStatus.DELIVERED, ""),
    "AVAILABLE_FOR_PICKUP": (ShipmentStatus.OUT_FOR_DELIVERY,
                             "available for pickup: 수취인 부재"),
    "EXCEPTION": (ShipmentStatus.EXCEPTION, "수취인 부재"),
}


@pytest.mark.parametrize("code", sorted(MAPPING))
async def test_every_status_code_in_our_words(tracker: Setup, code: str) -> None:
    tracker.stand_in.parcels[f"{CJ}/{NUMBER}"] = Parcel([
        event("INFORMATION_RECEIVED", T0), event(code, T1, "수취인 부재")])
    tracking = await tracker.client.track(CJ, "6071-2345-6789", subject="shipment:s1")
    assert tracking.registered and tracking.status_code == code
    assert tracking.final is (code == "DELIVERED")
    first = tracking.updates[0]
    assert (first.status, first.tracking_number) == (ShipmentStatus.CREATED, NUMBER)
    assert first.occurred_at == datetime(2026, 11, 30, 0, 0, tzinfo=UTC)
    expected = MAPPING[code]
    if expected is None:
        assert len(tracking.updates) == 1
    else:
        assert [(u.status, u.detail) for u in tracking.updates[1:]] == [expected]
    assert tracker.stand_in.variables == [
        {"carrierId": CJ, "trackingNumber": NUMBER, "last": 50}]


async def test_a_number_the_carrier_does_not_know_yet_is_a_result_not_an_error(
        tracker: Setup) -> None:
    tracking = await tracker.client.track("kr.epost", "6012345678901", subject="shipment:s1")
    assert not tracking.registered and not tracking.final and tracking.updates == ()
    assert "not registered with the carrier yet" in tracking.explanation
    assert len(tracker.stand_in.queries) == 1  # asked once, not retried


async def test_a_refused_number_is_a_domain_error(tracker: Setup) -> None:
    tracker.stand_in.parcels[f"{CJ}/{NUMBER}"] = Parcel(error="BAD_REQUEST")
    with pytest.raises(DomainError) as refused:
        await tracker.client.track(CJ, NUMBER, subject="shipment:s1")
    assert type(refused.value) is DomainError and not refused.value.retryable
    assert "refused kr.cjlogistics tracking number 607123456789" in refused.value.detail


async def test_a_malformed_number_is_refused_before_anything_is_sent(tracker: Setup) -> None:
    with pytest.raises(DomainError, match="expected 10 or 12 digits"):
        await tracker.client.track(CJ, "12345", subject="shipment:s1")
    with pytest.raises(DomainError, match="unknown carrier"):
        await tracker.client.track("us.ups", NUMBER, subject="shipment:s1")
    assert tracker.stand_in.queries == [] and tracker.ledger.drafts == []


async def test_an_internal_error_is_provider_unavailable(tracker: Setup) -> None:
    tracker.stand_in.parcels[f"{CJ}/{NUMBER}"] = Parcel(error="INTERNAL")
    with pytest.raises(ProviderUnavailable, match="INTERNAL"):
        await tracker.client.track(CJ, NUMBER, subject="shipment:s1")


async def test_a_500_is_retried_then_provider_unavailable(tracker: Setup) -> None:
    tracker.stand_in.parcels[f"{CJ}/{NUMBER}"] = Parcel(http_status=500)
    with pytest.raises(ProviderUnavailable):
        await tracker.client.track(CJ, NUMBER, subject="shipment:s1")
    assert len(tracker.stand_in.queries) == 3  # a read: safe to repeat


async def test_refused_credentials_are_provider_unavailable(aiohttp_server: Any) -> None:
    server = await aiohttp_server(application(StandIn()))
    ledger = RecordingLedger()
    http = OutboundHttp(ledger, NoAlerts(), 5, 0, 50, 30)
    client = DeliveryTrackerClient(http, ledger, "test-client", "wrong",
                                   str(server.make_url("/graphql")))
    with pytest.raises(ProviderUnavailable, match="refused our credentials"):
        await client.track(CJ, NUMBER, subject="shipment:s1")
    await http.close()


async def test_no_name_or_phone_number_reaches_the_evidence(tracker: Setup) -> None:
    said = "배송기사 김철수 010-9876-5432 부재로 미배달"
    tracker.stand_in.parcels[f"{CJ}/{NUMBER}"] = Parcel([
        event("AT_PICKUP", T0), event("ATTEMPT_FAIL", T1, said)])
    tracking = await tracker.client.track(CJ, NUMBER, subject="shipment:s1")
    assert tracking.updates[-1].detail == f"배송기사 김철수 {PHONE_PLACEHOLDER} 부재로 미배달"
    assert not tracker.stand_in.requested_fields() & {
        "sender", "recipient", "contact", "phoneNumber"}
    kept = [draft.redacted() for draft in tracker.ledger.drafts]
    assert [d.kind for d in tracker.ledger.drafts] == ["http.exchange", "tracking.read"]
    shown = str(kept) + str([d.raw for d in tracker.ledger.drafts])
    for personal in ("010-9876-5432", "01098765432", "+821012345678", "홍길동"):
        assert personal not in shown
    exchange = kept[0][1]
    assert exchange["response"]["body"] == "[withheld: personal data]"
    assert exchange["request"]["headers"]["Authorization"] == "[redacted]"
    assert kept[1][1]["updates"][-1]["detail"].endswith(f"{PHONE_PLACEHOLDER} 부재로 미배달")


async def test_polling_takes_a_parcel_from_its_number_to_delivered(tracker: Setup) -> None:
    days = ["2026-11-28", "2026-11-29", "2026-11-30", "2026-12-01"]
    codes = ["AT_PICKUP", "IN_TRANSIT", "OUT_FOR_DELIVERY", "DELIVERED"]
    tracker.stand_in.parcels[f"kr.lotte/{'234567890126'}"] = Parcel(
        [event(c, f"{d}T10:00:00+09:00") for c, d in zip(codes, days, strict=True)],
        reveal_one_per_look=True)
    shipment = Shipment("s1", "o1", "seller-a", "kr.lotte")
    shipment.accepted("234567890126")
    polls = 0
    while True:
        polls += 1
        tracking = await tracker.client.track("kr.lotte", "2345 6789 0126", subject="shipment:s1")
        for update in tracking.updates:
            shipment.apply(update)
        if tracking.final:
            break
    assert polls == 4 and shipment.status == ShipmentStatus.DELIVERED
    assert shipment.history == ["in_transit", "out_for_delivery", "delivered"]


def test_the_container_builds_the_client(tmp_path: Any) -> None:
    container = bootstrap.build(keys_file=str(tmp_path / "k.json"),
                                delivery_tracker_client_id="id",
                                delivery_tracker_client_secret="secret")
    assert isinstance(container.delivery_tracker(), DeliveryTrackerClient)


def test_half_a_credential_is_refused() -> None:
    with pytest.raises(ValueError, match="both a client id and a client secret"):
        DeliveryTrackerClient(None, None, "id", "")  # type: ignore[arg-type]
