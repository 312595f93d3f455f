"""The sandbox carrier's tracking webhooks, planned in the database and sent over real HTTP
when due: in order, marked once sent, resumed by a new sender after a stop, sent again (under
the same id) rather than skipped after a failure, and without the address in the evidence."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiohttp import web

from adapters.persistence.tables import EvidenceRecord, SandboxParcelEvent
from adapters.sandbox_webhooks import SandboxWebhookSender
from adapters.shipping.sandbox import SIGNATURE_HEADER, SandboxCarrier
from adapters.shipping.sandbox_tracking import SandboxTrackingPlan
from adapters.signing import verified_event
from application.ports import ShipmentRequest
from domain.orders import ShippingAddress
from tests.fakes import FakeClock
from tests.helpers import eventually
from tests.sql_statements import count_statements

pytestmark = pytest.mark.timeout(60)

SECRET = "whsec_tracking_test"
STEP = 60.0
BOOKED = datetime(2031, 5, 1, 9, 0, tzinfo=UTC)


@dataclass
class Receiver:
    """Our webhook endpoint, played by a server that keeps what it is sent (verified)."""

    url: str = ""
    events: list[dict[str, Any]] = field(default_factory=list)
    failing: bool = False

    @property
    def statuses(self) -> list[str]:
        return [event["data"]["status"] for event in self.events]


@pytest.fixture
async def receiver(aiohttp_server: Any) -> AsyncIterator[Receiver]:
    kept = Receiver()

    async def webhook(request: web.Request) -> web.Response:
        if kept.failing:
            return web.Response(status=503)
        body = await request.read()
        event = verified_event(request.headers.get(SIGNATURE_HEADER), body, [SECRET], "test")
        kept.events.append(event.payload)
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/v1/webhooks/sandbox-express", webhook)
    server = await aiohttp_server(app)
    kept.url = str(server.make_url("/v1/webhooks/sandbox-express"))
    yield kept


def _plan(container: Any, receiver: Receiver, clock: FakeClock) -> SandboxTrackingPlan:
    """A sender as a fresh process builds it: nothing shared with another but the database."""
    sender = SandboxWebhookSender(container.http(), "sandbox-carrier-webhooks", receiver.url,
                                  SECRET, SIGNATURE_HEADER, attempts=1)
    return SandboxTrackingPlan(sender, clock, poll_seconds=0.02)


def _request(line2: str = "", key: str = "key_1", **address: str) -> ShipmentRequest:
    parts = {"recipient": "Grace Hopper", "line1": "77 Teheran-ro", "line2": line2,
             "city": "Seoul", "postal_code": "06164", "country": "KR", **address}
    return ShipmentRequest("shp_1", "ord_1", key, ShippingAddress(**parts),
                           [{"sku": "TEA-01", "quantity": 2}])


async def _book(container: Any, plan: SandboxTrackingPlan, clock: FakeClock,
                line2: str = "", **address: str) -> str:
    carrier = SandboxCarrier(plan, container.ledger(), [SECRET], STEP, clock)
    return await carrier.create_shipment(_request(line2, **address))


async def _rows() -> list[dict[str, Any]]:
    e = SandboxParcelEvent
    return list(await e.select().order_by(e.sequence).output(load_json=True))


async def test_events_are_planned_at_booking_and_sent_in_order_once_due(
    container: Any, receiver: Receiver,
) -> None:
    clock = FakeClock(BOOKED)
    plan = _plan(container, receiver, clock)
    tracking = await _book(container, plan, clock, "scenario:failed_attempt")
    planned = await _rows()
    assert [row["sequence"] for row in planned] == [1, 2, 3, 4, 5, 6]
    assert [row["due_at"] for row in planned] == [
        BOOKED + timedelta(seconds=STEP * steps) for steps in (1, 2, 3, 4, 6, 7)]
    assert all(row["tracking_number"] == tracking and row["sent_at"] is None for row in planned)

    assert await plan.send_due() == 0  # nothing is due yet
    clock.advance(seconds=STEP * 2)
    assert await plan.send_due() == 2
    assert receiver.statuses == ["picked_up", "in_transit"]
    assert await plan.send_due() == 0  # sent once
    clock.advance(seconds=STEP * 10)
    assert await plan.send_due() == 4
    assert receiver.statuses == ["picked_up", "in_transit", "out_for_delivery", "exception",
                                 "out_for_delivery", "delivered"]
    assert [event["id"] for event in receiver.events] == [row["event"]["id"] for row in planned]
    # Each event carries its own time, the time it was due.
    assert [event["data"]["occurred_at"] for event in receiver.events] == [
        row["due_at"].isoformat() for row in planned]
    assert all(row["sent_at"] is not None for row in await _rows())


async def test_a_retried_booking_keeps_its_parcel_and_its_plan(
    container: Any, receiver: Receiver, engine_name: str,
) -> None:
    clock = FakeClock(BOOKED)
    plan = _plan(container, receiver, clock)
    carrier = SandboxCarrier(plan, container.ledger(), [SECRET], STEP, clock)
    with count_statements() as seen:
        first = await carrier.create_shipment(_request())
    if engine_name == "postgres":
        # Whether the key is booked; then the parcel, its journey and its evidence at once.
        assert seen.count == 2, seen.texts
    planned = await _rows()
    clock.advance(seconds=STEP)
    assert await carrier.create_shipment(_request()) == first
    assert await _rows() == planned
    asked = await EvidenceRecord.select(EvidenceRecord.id).where(
        EvidenceRecord.kind == "provider.parcel")
    assert len(asked) == 1  # the booking's, not the retry's


async def test_a_reshipment_after_a_reported_problem_plays_a_normal_journey(
    container: Any, receiver: Receiver,
) -> None:
    clock = FakeClock(BOOKED)
    plan = _plan(container, receiver, clock)
    carrier = SandboxCarrier(plan, container.ledger(), [SECRET], STEP, clock)
    # Split over two parcels booked together: both play the marker.
    await carrier.create_shipment(_request("scenario:lost", key="key_a"))
    await carrier.create_shipment(_request("scenario:lost", key="key_b"))
    clock.advance(seconds=STEP * 10)
    assert await plan.send_due() == 6
    assert receiver.statuses.count("exception") == 2
    replacement = await carrier.create_shipment(_request("scenario:lost", key="key_c"))
    planned = await SandboxParcelEvent.select().where(
        SandboxParcelEvent.tracking_number == replacement).output(load_json=True)
    assert [row["event"]["data"]["status"] for row in planned] == [
        "picked_up", "in_transit", "out_for_delivery", "delivered"]


async def test_a_new_sender_resumes_where_a_stopped_one_left_every_event_once_in_order(
    container: Any, receiver: Receiver,
) -> None:
    clock = FakeClock(BOOKED)
    first = _plan(container, receiver, clock)
    await _book(container, first, clock, "scenario:customs_hold", country="JP")
    first.start()
    clock.advance(seconds=STEP * 3)
    await eventually(lambda: _received(receiver, 3), what="the first three events")
    await first.stop()  # the process stops midway: three events sent, three to go
    clock.advance(seconds=STEP * 10)
    assert len(receiver.events) == 3

    second = _plan(container, receiver, clock)  # the restarted process
    second.start()
    try:
        await eventually(lambda: _received(receiver, 6), what="the other three events")
    finally:
        await second.stop()
    planned = await _rows()
    assert [event["id"] for event in receiver.events] == [row["event"]["id"] for row in planned]
    assert receiver.statuses == ["picked_up", "in_transit", "exception", "in_transit",
                                 "out_for_delivery", "delivered"]
    assert receiver.events[2]["data"]["problem"] == "customs_hold"


async def _received(receiver: Receiver, count: int) -> bool:
    return len(receiver.events) >= count


async def test_an_event_not_delivered_holds_back_the_ones_after_it_until_it_is(
    container: Any, receiver: Receiver,
) -> None:
    clock = FakeClock(BOOKED)
    plan = _plan(container, receiver, clock)
    await _book(container, plan, clock)
    clock.advance(seconds=STEP * 10)  # all four are due
    receiver.failing = True
    assert await plan.send_due() == 0
    assert all(row["sent_at"] is None and row["claimed_until"] is None for row in await _rows())
    receiver.failing = False
    assert await plan.send_due() == 4
    assert receiver.statuses == ["picked_up", "in_transit", "out_for_delivery", "delivered"]


class CrashesAfterSending(SandboxWebhookSender):
    """A sender whose process dies once the request went out, before the event is marked."""

    async def deliver(self, event: dict[str, Any]) -> bool:
        await super().deliver(event)
        raise RuntimeError("the process died")


async def test_an_event_sent_but_not_marked_is_sent_again_under_the_same_id(
    container: Any, receiver: Receiver,
) -> None:
    clock = FakeClock(BOOKED)
    plan = _plan(container, receiver, clock)
    await _book(container, plan, clock)
    clock.advance(seconds=STEP)
    crashing = SandboxTrackingPlan(CrashesAfterSending(
        container.http(), "sandbox-carrier-webhooks", receiver.url, SECRET, SIGNATURE_HEADER,
        attempts=1), clock, poll_seconds=0.02)
    with pytest.raises(RuntimeError):
        await crashing.send_due()
    clock.advance(seconds=STEP * 10)
    assert await plan.send_due() == 4
    ids = [event["id"] for event in receiver.events]
    assert ids[0] == ids[1] and len(set(ids)) == 4  # at least once, never skipped
    assert receiver.statuses == ["picked_up", "picked_up", "in_transit", "out_for_delivery",
                                 "delivered"]


async def test_an_event_another_sender_holds_waits_for_its_lease(
    container: Any, receiver: Receiver,
) -> None:
    clock = FakeClock(BOOKED)
    plan = _plan(container, receiver, clock)
    await _book(container, plan, clock)
    clock.advance(seconds=STEP * 10)
    e = SandboxParcelEvent
    await e.update({e.claimed_until: clock.now() + timedelta(minutes=5)}).where(e.sequence == 1)
    assert await plan.send_due() == 0  # the other sender is on this parcel
    clock.advance(minutes=6)  # ... and died: its hold runs out
    assert await plan.send_due() == 4


async def test_the_carrier_evidence_and_its_webhooks_hold_no_address(
    container: Any, receiver: Receiver,
) -> None:
    clock = FakeClock(BOOKED)
    plan = _plan(container, receiver, clock)
    await _book(container, plan, clock, "Flat 1203 scenario:lost", postal_code="06164")
    clock.advance(seconds=STEP * 10)
    assert await plan.send_due() == 3
    records = await EvidenceRecord.select().where(EvidenceRecord.subject == "order:ord_1")
    assert {row["source"] for row in records} >= {"sandbox-express", "sandbox-carrier-webhooks"}
    parcel = next(json.loads(row["payload"]) if isinstance(row["payload"], str)
                  else row["payload"] for row in records if row["kind"] == "provider.parcel")
    assert (parcel["scenario"], parcel["scenario_chosen_by"]) == ("lost", "marker")
    stored = json.dumps([*records, *await _rows()], default=str) + json.dumps(receiver.events)
    for personal in ("Grace", "Hopper", "Teheran", "Flat 1203", "06164", "Seoul"):
        assert personal not in stored
