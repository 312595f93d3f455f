"""Two journeys of a Korean domestic parcel, from the tracking number a seller handed over to
delivered, through the whole backend (bus, outbox, unit of work, HTTP route) and the Delivery
Tracker client: one followed by polling, one by Delivery Tracker's webhook.

The recorder (`python -m tests.cassettes.record_delivery_tracker`) runs them against the
stand-in (delivery_tracker_standin.py) and keeps the client's exchanges in
tests/cassettes/delivery_tracker/; the replay test runs the very same journeys on those
cassettes, so the exchanges must come in the same order with the same bodies. Times are the
test clock's, so a registration's expirationTime is the same at both.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import vcr
from aiohttp.test_utils import TestClient, TestServer
from dependency_injector import providers
from vcr.request import Request

import bootstrap
from adapters.persistence.tables import OutboxMessage
from adapters.persistence.tables import ParcelWatch as WatchRow
from application.ordering import LineInput, PlaceOrder
from application.transactions import new_id, send
from domain.commands import FollowParcel
from domain.shipments import Shipment
from entrypoints.http.app import create_app
from tests.conftest import reset_database
from tests.fakes.clock import FakeClock
from tests.integration.delivery_tracker_standin import API_KEY, Parcel, event

CASSETTES = Path(__file__).parent.parent / "cassettes" / "delivery_tracker"
STAND_IN_PORT = 18768
RECORDED_URL = f"http://127.0.0.1:{STAND_IN_PORT}/graphql"
CLIENT_ID, CLIENT_SECRET = API_KEY.removeprefix("TRACKQL-API-KEY ").split(":")
# Never in a cassette: the callback URL is filtered out of every recorded request.
TOKEN = "dt-callback-7Jx2QmV9sLr4Wc8NzP1aKe6Ty3Ug5Hb0"
PUBLIC_BASE = "https://mall.example"
CARRIER = "kr.cjlogistics"
POLLED, HOOKED = "607123456789", "607123456790"
T0 = datetime(2026, 11, 30, 0, 0, tzinfo=UTC)  # the seller hands the parcel over


def _kst(day: int, hour: int, minute: int = 0) -> str:
    month = 11 if day == 30 else 12
    return f"2026-{month:02d}-{day:02d}T{hour:02d}:{minute:02d}:00+09:00"


# The polled parcel: unknown to the carrier at first, then scanned, a failed attempt, delivered
# the next day. `shown_per_look`: how many of its events each look at it shows.
POLLED_PARCEL = Parcel(
    [event("AT_PICKUP", _kst(30, 18)), event("IN_TRANSIT", _kst(1, 2)),
     event("OUT_FOR_DELIVERY", _kst(1, 9)), event("ATTEMPT_FAIL", _kst(1, 14), "수취인 부재"),
     event("OUT_FOR_DELIVERY", _kst(2, 9, 10)), event("DELIVERED", _kst(2, 13))],
    shown_per_look=[0, 1, 1, 3, 4, 6])
# The hooked parcel: one more event each time Delivery Tracker calls back.
HOOKED_PARCEL = Parcel(
    [event("INFORMATION_RECEIVED", _kst(30, 9, 5)), event("AT_PICKUP", _kst(30, 11)),
     event("IN_TRANSIT", _kst(30, 20)), event("OUT_FOR_DELIVERY", _kst(1, 8)),
     event("DELIVERED", _kst(1, 15))],
    reveal_one_per_look=True)


def _without_callback_url(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: "[filtered]" if k == "callbackUrl" else _without_callback_url(v)
                for k, v in value.items()}
    if isinstance(value, list):
        return [_without_callback_url(item) for item in value]
    return value


def _json(body: Any) -> Any:
    if isinstance(body, dict | list):  # vcrpy's aiohttp stub keeps `json=` as given
        return body
    return json.loads(body) if body else None


def _kept(request: Request) -> Request | None:
    """What a cassette keeps of a request, and what a replayed one is matched as: the body as
    canonical JSON without the callback URL (its token authenticates callbacks). Our own
    routes, which the journeys call as Delivery Tracker would, pass by the cassette."""
    if request.path.startswith("/v1/"):
        return None
    body = _without_callback_url(_json(request.body))
    request.body = json.dumps(body, sort_keys=True, ensure_ascii=False).encode()
    return request


def json_body(r1: Request, r2: Request) -> None:
    assert _json(r1.body) == _json(r2.body), f"{r1.body!r} != {r2.body!r}"


def delivery_tracker_vcr(record_mode: str) -> vcr.VCR:
    recorder = vcr.VCR(
        cassette_library_dir=str(CASSETTES), record_mode=record_mode,
        match_on=["method", "host", "port", "path", "json_body"],
        filter_headers=[("Authorization", "TRACKQL-API-KEY [filtered]")],
        before_record_request=_kept, decode_compressed_response=True)
    recorder.register_matcher("json_body", json_body)
    return recorder


@dataclass
class Shop:
    """The backend with a test clock, its HTTP app, and a parcel's steps."""

    container: bootstrap.Container
    clock: FakeClock
    client: TestClient[Any, Any]
    looks: list[timedelta] = field(default_factory=list)  # each wait before a scheduled look

    async def hand_over(self, number: str) -> str:
        """A paid one-seller order, and the parcel its seller handed to CJ Logistics under
        `number`: the shipment, and the FollowParcel command that the seller API sends."""
        order = await self.container.ordering().place(PlaceOrder(
            customer_id="cus_parcel_journey", currency="KRW",
            lines=[LineInput("TEA-01", "Jeju green tea", "seller-a", 2, 15000)],
            shipping_address={"recipient": "Ada Lovelace", "line1": "1 Sejong-daero",
                              "line2": "", "city": "Seoul", "postal_code": "04524",
                              "country": "KR"},
            carrier=CARRIER))  # the seller hands the parcel to CJ Logistics
        shipment = Shipment(new_id("shp"), order.id, "seller-a", CARRIER)
        shipment.accepted(number, order.customer_id)
        async with self.container.uow()() as uow:
            paid = await uow.orders.lock(order.id)
            assert paid is not None
            paid.mark_paid()  # how it was paid is another story here
            await uow.orders.save(paid)
            await uow.shipments.add(shipment)
            await send(uow, FollowParcel(shipment.id))
            await uow.commit()
        await self.run_outbox()
        return shipment.id

    async def run_outbox(self) -> None:
        """Perform every pending outbox command, and those they cause, as a worker would."""
        relay = self.container.outbox()
        for _ in range(30):
            pending = await OutboxMessage.select(OutboxMessage.id).where(
                OutboxMessage.status == "pending")
            if not pending:
                return
            await relay.run_batch([row["id"] for row in pending])
        raise AssertionError("the outbox never emptied")

    async def watch(self, shipment_id: str) -> dict[str, Any]:
        row = await WatchRow.select().where(WatchRow.shipment_id == shipment_id).first()
        assert row is not None, "the parcel is not followed"
        return dict(row)

    async def status(self, shipment_id: str) -> str:
        async with self.container.uow()(read_only=True) as uow:
            shipment = await uow.shipments.get(shipment_id)
        assert shipment is not None
        return shipment.status.value

    async def next_scheduled_look(self, shipment_id: str) -> int:
        """Move the clock to the parcel's next look and run the re-check job: how many looks
        it sent (over all parcels)."""
        due = (await self.watch(shipment_id))["next_check_at"]
        assert due is not None, "no look is scheduled"
        due = due if isinstance(due, datetime) else datetime.fromisoformat(due)
        self.looks.append(due - self.clock.now())
        self.clock.advance(seconds=max(0.0, (due - self.clock.now()).total_seconds()))
        sent = await self.container.parcel_tracking().send_due_looks()
        await self.run_outbox()
        return sent

    async def call_back(self, number: str, token: str = TOKEN,
                        carrier: str = CARRIER) -> tuple[int, dict[str, Any]]:
        """Delivery Tracker's callback, as its documentation shows it."""
        response = await self.client.post(
            f"/v1/webhooks/delivery-tracker/{token}",
            json={"carrierId": carrier, "trackingNumber": number})
        answer = await response.json()
        await self.run_outbox()
        return response.status, answer


def shop_settings(folder: Path, tracker_url: str, *, webhooks: bool,
                  **overrides: Any) -> bootstrap.Settings:
    values: dict[str, Any] = {
        "sqlite_path": str(folder / "mall.sqlite"), "keys_file": str(folder / "keys.json"),
        "evidence_checkpoint_file": str(folder / "checkpoints.jsonl"), "database_url": "",
        "redis_url": "", "http_retries": 0, "http_timeout_seconds": 5.0,
        "validate_responses": True, "allow_sandbox": True, "delivery_tracker_url": tracker_url,
        "delivery_tracker_client_id": CLIENT_ID, "delivery_tracker_client_secret": CLIENT_SECRET,
        "delivery_tracker_webhook_token": TOKEN,
        "delivery_tracker_webhook_base_url": PUBLIC_BASE if webhooks else "",
        **overrides}
    return bootstrap.load_keys(bootstrap.Settings(_env_file=None, **values))


@asynccontextmanager
async def running_shop(settings: bootstrap.Settings, clock: FakeClock, *,
                       fresh: bool = True) -> AsyncIterator[Shop]:
    """The backend on `settings` with `clock`; `fresh`: its database emptied first (else it
    takes up where the last one stopped, as after a restart)."""
    container = bootstrap.build(settings)
    container.clock.override(providers.Object(clock))
    if fresh:
        await reset_database(container)
    client = TestClient(TestServer(create_app(container, start_worker=False)))
    await client.start_server()
    try:
        yield Shop(container, clock, client)
    finally:
        await client.close()
        await container.http().close()


async def polling_journey(settings: bootstrap.Settings) -> dict[str, Any]:
    """No webhook: the parcel is looked at when handed over, then on the re-check schedule,
    with a restart of the backend halfway; what each look left the shipment at."""
    clock = FakeClock(T0)
    async with running_shop(settings, clock) as shop:
        shipment_id = await shop.hand_over(POLLED)
        statuses = [await shop.status(shipment_id)]
        for _ in range(2):
            assert await shop.next_scheduled_look(shipment_id) == 1
            statuses.append(await shop.status(shipment_id))
        looks = list(shop.looks)
    # A restart: a new process on the same database resumes the schedule.
    async with running_shop(settings, clock, fresh=False) as shop:
        while (await shop.watch(shipment_id))["status"] == "following":
            assert await shop.next_scheduled_look(shipment_id) == 1
            statuses.append(await shop.status(shipment_id))
            assert len(statuses) <= 10, "the parcel never reached a final status"
        looks.extend(shop.looks)
        clock.advance(days=60)
        after_final = await shop.container.parcel_tracking().send_due_looks()
        return {"shipment_id": shipment_id, "statuses": statuses, "waits": looks,
                "after_final": after_final, "watch": await shop.watch(shipment_id),
                "shipment": await _shipment(shop, shipment_id),
                "order_status": await _order_status(shop, shipment_id),
                "evidence": await _evidence()}


async def webhook_journey(settings: bootstrap.Settings) -> dict[str, Any]:
    """A webhook registered at hand-over: each callback sets off a look; the registration is
    extended once half its lifetime is gone; a callback after delivery asks nothing more."""
    clock = FakeClock(T0)
    async with running_shop(settings, clock) as shop:
        shipment_id = await shop.hand_over(HOOKED)
        first = await shop.watch(shipment_id)
        steps: list[tuple[str, Any]] = [("handed over", await shop.status(shipment_id))]
        for hours in (3, 17):
            clock.advance(hours=hours)
            answer = await shop.call_back(HOOKED)
            steps.append((f"callback {answer}", await shop.status(shipment_id)))
        sent = await shop.next_scheduled_look(shipment_id)  # half the lifetime: extended
        extended = await shop.watch(shipment_id)
        steps.append((f"renewal sent {sent}", await shop.status(shipment_id)))
        clock.advance(hours=6)
        answer = await shop.call_back(HOOKED)
        steps.append((f"callback {answer}", await shop.status(shipment_id)))
        late = await shop.call_back(HOOKED)  # after delivery: recorded, nothing asked
        return {"shipment_id": shipment_id, "steps": steps, "first": first,
                "extended": extended, "late": late, "watch": await shop.watch(shipment_id),
                "shipment": await _shipment(shop, shipment_id),
                "order_status": await _order_status(shop, shipment_id),
                "evidence": await _evidence()}


async def _shipment(shop: Shop, shipment_id: str) -> Shipment:
    async with shop.container.uow()(read_only=True) as uow:
        shipment = await uow.shipments.get(shipment_id)
    assert shipment is not None
    return shipment


async def _order_status(shop: Shop, shipment_id: str) -> str:
    shipment = await _shipment(shop, shipment_id)
    async with shop.container.uow()(read_only=True) as uow:
        order = await uow.orders.get(shipment.order_id)
    assert order is not None
    return order.status.value


async def _evidence() -> list[dict[str, Any]]:
    from adapters.persistence.tables import EvidenceRecord

    rows = await EvidenceRecord.select(EvidenceRecord.source, EvidenceRecord.kind,
                                       EvidenceRecord.payload).order_by(EvidenceRecord._meta.primary_key)
    return [dict(row) for row in rows]
