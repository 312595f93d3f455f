"""On SQLite a unit of work's writes nobody reads back travel with its next statement or its
COMMIT, in one trip to the connection's thread, and writers queue at the engine's write gate
(adapters/persistence/warm_sqlite.py): the same effects as one statement at a time, with
SQLite's single write lock held only while SQLite works."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import aiosqlite
import pytest

from adapters.persistence import raw, warm_sqlite
from adapters.persistence.tables import (
    EvidenceRecord,
    MessageDelivery,
    OutboxMessage,
    SandboxCharge,
)
from application.ports import InboundEvent
from domain.commands import SendNotification
from domain.deliveries import Delivery
from domain.evidence import EvidenceDraft
from domain.messages import DeliveryStatus
from domain.money import Money
from domain.payments import Payment
from domain.shipments import Shipment
from tests.integration.test_message_deliveries import _korean_customer, _shop
from tests.integration.test_persistence import _order


@pytest.fixture
def engine_name() -> str:
    return "sqlite"


@pytest.fixture
def trips(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The first statement of every trip made to a connection's thread: for a
    transaction, a write on its own, or a read on its own."""
    made: list[str] = []
    in_thread, read_alone = warm_sqlite._in_thread, aiosqlite.Connection.execute_fetchall

    async def counted(connection: Any, function: Any, *args: Any) -> Any:
        made.append(str(args[1][0][0]).split(" ", 1)[0] if function is warm_sqlite._run_steps
                    else str(args[-1]).split(" ", 1)[0])
        return await in_thread(connection, function, *args)

    async def counted_read(connection: Any, sql: str, *args: Any) -> Any:
        made.append(sql.lstrip().split(" ", 1)[0])
        return await read_alone(connection, sql, *args)

    monkeypatch.setattr(warm_sqlite, "_in_thread", counted)
    monkeypatch.setattr(aiosqlite.Connection, "execute_fetchall", counted_read)
    yield made


def _draft(n: int) -> EvidenceDraft:
    return EvidenceDraft("test", "note", "order:o1", {"n": n}, {"n": n})


async def test_writes_alone_commit_in_one_trip(container: Any, trips: list[str]) -> None:
    async with container.uow()() as u:
        first = await u.messages.outbox.add("TrackEvent", {"n": 1})
        second = await u.messages.outbox.add("TrackEvent", {"n": 2})
        pending = await u.evidence.append(_draft(1))
        assert trips == []  # nothing sent yet, not even BEGIN
        await u.commit()
    assert trips == ["INSERT"]  # BEGIN IMMEDIATE, three INSERTs and the COMMIT
    rows = await OutboxMessage.select(OutboxMessage.id).where(
        OutboxMessage.id.is_in([first, second]))
    assert len(rows) == 2
    # The append was handed out before it had an id; it has the one it got by now.
    assert pending.id > 0
    stored = await EvidenceRecord.select(EvidenceRecord.payload).where(
        EvidenceRecord._meta.primary_key == pending.id).first()
    assert stored is not None and json.loads(stored["payload"]) == {"n": 1}


async def test_a_read_in_the_transaction_sees_the_writes_before_it(
        container: Any, trips: list[str]) -> None:
    async with container.uow()() as u:
        message_id = await u.messages.outbox.add("TrackEvent", {"n": 1})
        [claimed] = await u.messages.outbox.claim_batch([message_id], 60)
        await u.commit()
    assert claimed.id == message_id
    assert trips == ["INSERT", "COMMIT"]  # the insert went with the claim


async def test_an_append_gets_its_id_when_asked(container: Any) -> None:
    async with container.uow()() as u:
        pending = await u.evidence.append(_draft(1))
        assert pending.id == 0
        await raw.flush()  # what sealing does first
        assert pending.id > 0
        await u.commit()


async def test_leaving_without_commit_writes_nothing_and_frees_the_lock(
        container: Any) -> None:
    async with container.uow()() as u:
        message_id = await u.messages.outbox.add("TrackEvent", {"n": 1})
        await u.orders.get("ord_nobody")  # sends the insert: the write lock is taken
    assert await OutboxMessage.count().where(OutboxMessage.id == message_id) == 0
    async with container.uow()() as u:  # would wait at the gate if the lock were kept
        await asyncio.wait_for(u.messages.outbox.add("TrackEvent", {"n": 2}), 5)
        await asyncio.wait_for(u.commit(), 5)


async def test_a_gathered_write_that_fails_fails_the_commit_and_keeps_nothing(
        container: Any) -> None:
    async with container.uow()() as u:
        taken = await u.messages.outbox.add("TrackEvent", {"n": 1})
        await u.commit()
    with pytest.raises(sqlite3.IntegrityError):
        async with container.uow()() as u:
            kept_back = await u.messages.outbox.add("TrackEvent", {"n": 2})
            await raw.later(OutboxMessage.insert(OutboxMessage(  # its key is taken
                id=taken, topic="TrackEvent", payload="{}", status="pending")))
            await u.commit()
    assert await OutboxMessage.count().where(OutboxMessage.id == kept_back) == 0
    async with container.uow()() as u:  # the gate and the lock were left
        await asyncio.wait_for(u.messages.outbox.add("TrackEvent", {"n": 3}), 5)
        await asyncio.wait_for(u.commit(), 5)


async def test_a_writer_waits_at_the_gate_until_the_holder_commits(container: Any) -> None:
    holding, release = asyncio.Event(), asyncio.Event()

    async def hold() -> None:
        async with container.uow()() as u:
            await u.messages.outbox.add("TrackEvent", {"n": 1})
            await u.orders.get("ord_nobody")  # begun: the gate and SQLite's lock are held
            holding.set()
            await release.wait()
            await u.commit()

    async def write_alone() -> str:
        async with container.uow()() as u:
            message_id = await u.messages.outbox.add("TrackEvent", {"n": 2})
            await u.commit()
        return message_id

    holder = asyncio.create_task(hold())
    await holding.wait()
    writer = asyncio.create_task(write_alone())
    done, _ = await asyncio.wait([writer], timeout=0.3)
    assert not done  # queued behind the holder
    release.set()
    await holder
    message_id = await asyncio.wait_for(writer, 5)
    assert await OutboxMessage.count().where(OutboxMessage.id == message_id) == 1


async def test_a_write_transaction_of_its_own_joins_a_running_one(container: Any) -> None:
    async with container.uow()() as u:
        message_id = await u.messages.outbox.add("TrackEvent", {"n": 1})
        async with raw.together():  # joins: commits nothing on its own
            await raw.later(OutboxMessage.update({OutboxMessage.attempts: 7}).where(
                OutboxMessage.id == message_id))
    # Left without commit: neither write was kept.
    assert await OutboxMessage.count().where(OutboxMessage.id == message_id) == 0
    async with raw.together():  # on its own: commits at its end
        await raw.later(OutboxMessage.insert(OutboxMessage(
            id="obx_alone", topic="TrackEvent", payload="{}", status="pending")))
    assert await OutboxMessage.count().where(OutboxMessage.id == "obx_alone") == 1


async def test_a_message_is_claimed_with_its_recipient_in_one_trip(
        container: Any, trips: list[str]) -> None:
    _, smtp, _ = await _shop(container)
    customer_id = await _korean_customer(container)
    command = SendNotification("order_paid", {"order_id": "ord_1"}, customer_id=customer_id)
    trips.clear()

    await container.messaging().send(command, "msg_paid_trips")

    assert [mail.message_id for mail in smtp.sent] == ["msg_paid_trips"]
    # The claim with the recipient, their consents, devices and suppressions (BEGIN
    # IMMEDIATE, the INSERT, the read, COMMIT); then the outcome with its evidence.
    assert trips == ["INSERT", "UPDATE"], trips


async def test_an_order_locked_by_its_payment_comes_with_its_payments_in_one_trip(
        container: Any, trips: list[str]) -> None:
    at = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)
    async with container.uow()() as u:
        await u.orders.add(_order("ord_lp", "cus_lp"))
        await u.payments.add(Payment("pay_lp", "ord_lp", "cus_lp", "sandbox",
                                     Money(1000, "KRW"), "card", "pay_lp", created_at=at))
        await u.shipments.add(Shipment("shp_lp", "ord_lp", "sel_1", "sandbox-express"))
        await u.commit()
    trips.clear()
    async with container.uow()() as u:
        order = await u.orders.lock_for_payment("pay_lp")
        [payment] = await u.payments.of_order("ord_lp")
        [shipment] = await u.shipments.of_order("ord_lp")
        # BEGIN IMMEDIATE, the payments (with shipments and operations) and the order
        assert trips == ["SELECT"], trips
        assert order is not None and order.id == "ord_lp"
        assert (payment.id, payment.amount, shipment.id) == ("pay_lp", Money(1000, "KRW"),
                                                             "shp_lp")
        # What the unit writes of them is not answered from what was read ahead.
        await u.payments.add(Payment("pay_lp2", "ord_lp", "cus_lp", "sandbox",
                                     Money(500, "KRW"), "card", "pay_lp2",
                                     created_at=at + timedelta(minutes=1)))
        assert [p.id for p in await u.payments.of_order("ord_lp")] == ["pay_lp", "pay_lp2"]
        await u.commit()


async def test_the_fraud_screens_record_comes_with_the_customers_orders_in_one_trip(
        container: Any, trips: list[str]) -> None:
    async with container.uow()() as u:
        for n in range(3):
            await u.orders.add(replace(_order(f"ord_h{n}", "cus_h"),
                                       created_at=datetime(2026, 12, 3, 9, n, tzinfo=UTC)))
        await u.commit()
    since = datetime(2026, 12, 2, tzinfo=UTC)
    trips.clear()
    async with container.uow()() as u:
        record = await u.reviews.screening("ord_h2", "cus_h", since)
        history = await u.orders.of_customer("cus_h", limit=2)
        assert trips == ["SELECT"], trips  # BEGIN IMMEDIATE, the orders and the record
        assert (record.review, record.failed_payments) == (None, 0)
        assert [o.id for o in history] == ["ord_h2", "ord_h1"]
        # Given out once; an order added in the unit is not answered from what was read.
        await u.reviews.screening("ord_h2", "cus_h", since)
        await u.orders.add(replace(_order("ord_h3", "cus_h"),
                                   created_at=datetime(2026, 12, 3, 9, 5, tzinfo=UTC)))
        assert [o.id for o in await u.orders.of_customer("cus_h", limit=2)] == [
            "ord_h3", "ord_h2"]
        await u.commit()


async def test_a_row_inserted_unless_its_key_is_taken_goes_with_its_writes_in_one_trip(
        container: Any, trips: list[str]) -> None:
    event = InboundEvent("evt_new", "payment.succeeded", {"amount": 1000})
    draft = EvidenceDraft("sandbox", "webhook.received", "order:ord_n", {}, {"n": 1})
    async with container.uow()(autocommit=True) as u:
        first = await u.messages.inbox.add("sandbox", event, draft)
        assert trips == ["INSERT"]  # BEGIN IMMEDIATE, the callback, its evidence, COMMIT
        again = await u.messages.inbox.add("sandbox", event, draft)  # the COMMIT fails
    async with container.uow()() as u:  # in a transaction already: the same answers
        in_unit = await u.messages.inbox.add("sandbox", event, draft)
        other = await u.messages.inbox.add("sandbox", replace(event, event_id="evt_n2"), draft)
        await u.commit()

    assert first is not None and again is None and in_unit is None and other is not None
    kept = await EvidenceRecord.count().where(EvidenceRecord.subject == "order:ord_n")
    assert kept == 2  # one for each new callback, none for the repeats


async def test_another_constraint_failing_is_not_taken_for_a_taken_key(
        container: Any) -> None:
    row = SandboxCharge(idempotency_key="key_1", reference="ch_1", status="succeeded",
                        amount=1000, currency="KRW", scenario="success", order_id="ord_c",
                        created_at=datetime(2026, 12, 3, tzinfo=UTC))
    assert await raw.insert_new(row, SandboxCharge.idempotency_key, _nothing)
    # The same key sent again, with a charge reference of its own: taken.
    assert not await raw.insert_new(_charge(row, reference="ch_2"),
                                    SandboxCharge.idempotency_key, _nothing)
    # A new key with a reference taken: that failure is not hidden.
    with pytest.raises(sqlite3.IntegrityError, match=r"sandbox_charge\.reference"):
        await raw.insert_new(_charge(row, idempotency_key="key_2"),
                             SandboxCharge.idempotency_key, _nothing)
    assert await SandboxCharge.count() == 1


async def _nothing() -> None:
    return None


def _charge(row: SandboxCharge, **changed: Any) -> SandboxCharge:
    return SandboxCharge(**{**row.to_dict(), **changed})


async def test_a_claim_in_a_running_transaction_is_read_at_once(container: Any) -> None:
    customer_id = await _korean_customer(container)
    now = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)
    fresh = Delivery("msg_in_unit", customer_id, "order_paid", DeliveryStatus.SENDING, now,
                     now)
    async with container.uow()() as u:
        claim = await u.messages.deliveries.claim_reaching(fresh, ["email"])
        assert claim.found is None and claim.reachable is not None
        assert claim.reachable[0].id == customer_id and len(claim.address_keys) == 1
        await u.commit()
    assert await MessageDelivery.count().where(MessageDelivery.message_id == "msg_in_unit") == 1
