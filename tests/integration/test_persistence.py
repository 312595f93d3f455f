"""The unit of work, the inbox, the outbox and the ledger on each database engine."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from adapters.persistence.tables import Customer as CustomerRow
from adapters.persistence.tables import EvidenceRecord, OutboxMessage
from application.ports import InboundEvent
from application.ports.persistence import ScreeningRecord
from domain.customers import Customer
from domain.evidence import EvidenceDraft
from domain.money import Money
from domain.operations import Operation
from domain.orders import Order, OrderLine, ShippingAddress
from domain.payments import Payment, PaymentStatus
from domain.reviews import FraudReview
from domain.shipments import Shipment
from tests.sql_statements import count_statements


def _customer(n: int) -> Customer:
    return Customer(f"cus_{n}", f"c{n}@example.com", "hash", created_at=datetime.now(UTC))


async def test_leaving_without_commit_rolls_back(container: Any) -> None:
    uow = container.uow()
    async with uow() as u:
        await u.customers.add(_customer(1))
    async with uow() as u:
        await u.customers.add(_customer(2))
        await u.commit()
    assert [r["id"] for r in await CustomerRow.select(CustomerRow.id)] == ["cus_2"]


async def test_an_error_inside_rolls_back(container: Any) -> None:
    uow = container.uow()
    with pytest.raises(RuntimeError):
        async with uow() as u:
            await u.customers.add(_customer(3))
            await u.messages.outbox.add("SendNotification", {"x": 1})
            raise RuntimeError("boom")
    assert await CustomerRow.count() == 0
    assert await OutboxMessage.count() == 0


async def test_the_inbox_keeps_one_copy_per_provider_and_event(container: Any) -> None:
    uow = container.uow()
    event = InboundEvent("evt_1", "payment.succeeded", {"a": 1})

    async def store(provider: str) -> str | None:
        async with uow() as u:
            inbox_id = await u.messages.inbox.add(provider, event)
            await u.commit()
            return inbox_id

    results = await asyncio.gather(*[store("sandbox") for _ in range(10)])
    assert sum(1 for r in results if r) == 1
    assert await store("other-provider") is not None


async def test_only_one_worker_claims_an_outbox_message(container: Any) -> None:
    uow = container.uow()
    async with uow() as u:
        message_id = await u.messages.outbox.add("SendNotification", {"x": 1})
        await u.commit()

    async def claim() -> Any:
        async with uow() as u:
            message = await u.messages.outbox.claim(message_id, 30)
            await u.commit()
            return message

    claims = await asyncio.gather(*[claim() for _ in range(8)])
    assert sum(1 for c in claims if c is not None) == 1
    async with uow() as u:
        await u.messages.outbox.complete(message_id)
        await u.commit()
    assert await claim() is None


async def test_an_expired_lease_lets_another_worker_take_over(container: Any) -> None:
    uow = container.uow()
    async with uow() as u:
        message_id = await u.messages.outbox.add("SendNotification", {"x": 1})
        await u.commit()
    async with uow() as u:
        assert await u.messages.outbox.claim(message_id, 0.01) is not None
        await u.commit()
    await asyncio.sleep(0.05)
    async with uow() as u:
        assert await u.messages.outbox.claim(message_id, 30) is not None
        assert await u.messages.outbox.unfinished(older_than_seconds=-60, limit=10) == [message_id]


async def _append(container: Any, count: int) -> None:
    async def one(n: int) -> None:
        async with container.uow()() as u:
            await u.evidence.append(EvidenceDraft("test", "note", "order:o1", {"n": n},
                                                  {"n": n, "password": "hunter2"}))
            await u.commit()

    await asyncio.gather(*[one(n) for n in range(count)])
    await container.evidence().seal()  # as the worker's sealer does: what is tampered is sealed


async def test_concurrent_appends_form_one_verifiable_chain(container: Any) -> None:
    await _append(container, 20)
    report = await container.evidence().verify()
    assert report.ok and report.checked == 20
    records = await container.evidence().of_subject("order:o1")
    assert [r["seq"] for r in records] == list(range(1, 21))
    assert all(r["payload"]["password"] == "[redacted]" for r in records)


@pytest.mark.parametrize("tamper", [
    "UPDATE evidence_record SET payload = '[99]' WHERE seq = 3",
    "DELETE FROM evidence_record WHERE seq = 3",
    "UPDATE evidence_record SET received_at = '2020-01-01T00:00:00+00:00' WHERE seq = 3",
])
async def test_a_tampered_record_is_reported(container: Any, tamper: str) -> None:
    await _append(container, 5)
    await EvidenceRecord.raw(tamper)
    report = await container.evidence().verify()
    assert not report.ok
    assert report.first_bad_seq in (3, 4)
    assert report.reason


async def test_the_cli_reports_a_tampered_chain(container: Any, tmp_path: Any) -> None:
    await _append(container, 3)
    env = {**os.environ, "MALL_SQLITE_PATH": container.config.sqlite_path(),
           "DATABASE_URL": container.config.database_url(),
           "MALL_KEYS_FILE": str(tmp_path / "keys.json"), "MALL_LOG_LEVEL": "WARNING",
           "MALL_EVIDENCE_CHECKPOINT_FILE": container.config.evidence_checkpoint_file(),
           "MALL_ALLOW_SANDBOX": "true"}

    def verify() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "entrypoints.cli", "verify-evidence", "--json"],
            env=env, capture_output=True, text=True, timeout=60)

    ok = await asyncio.to_thread(verify)
    assert ok.returncode == 0, ok.stderr
    assert '"ok": true' in ok.stdout
    await EvidenceRecord.raw("UPDATE evidence_record SET kind = 'forged' WHERE seq = 2")
    broken = await asyncio.to_thread(verify)
    assert broken.returncode == 1
    assert '"first_bad_seq": 2' in broken.stdout


async def test_verification_walks_the_chain_in_pages(container: Any) -> None:
    await _append(container, 10)
    assert (await container.evidence().verify(page=3)).as_dict() == {
        "ok": True, "checked": 10, "first_bad_seq": None, "reason": None, "checkpoint": None,
        "head_seq": 10, "anchored_seq": 10}
    await EvidenceRecord.raw("UPDATE evidence_record SET subject = 'order:o2' WHERE seq = 7")
    report = await container.evidence().verify(page=3)
    assert (report.ok, report.checked, report.first_bad_seq) == (False, 6, 7)


async def test_an_abandoned_in_flight_key_lets_a_retry_in(container: Any) -> None:
    from datetime import timedelta

    from application.idempotency import Fingerprint, IdempotencyGuard, RequestInFlight

    class Later:
        def __init__(self) -> None:
            self.offset = timedelta(0)

        def now(self) -> datetime:
            return datetime.now(UTC) + self.offset

    clock = Later()
    guard = IdempotencyGuard(container.uow(), clock, timedelta(hours=24),
                             abandoned_after=timedelta(minutes=2))
    request = Fingerprint.of("POST", "/v1/orders", {}, b"{}")
    assert await guard.begin("cus_1", "k", request) is None
    with pytest.raises(RequestInFlight):
        await guard.begin("cus_1", "k", request)
    clock.offset = timedelta(minutes=3)  # the first request's process died meanwhile
    assert await guard.begin("cus_1", "k", request) is None
    await guard.finish("cus_1", "k", 200, {"ok": True})
    replay = await guard.begin("cus_1", "k", request)
    assert replay is not None and replay.body == {"ok": True}


async def test_processes_starting_together_migrate_one_at_a_time(
    container: Any, engine_name: str
) -> None:
    import asyncpg

    from adapters.persistence.engine import _MIGRATION_LOCK_KEY, migrate

    if engine_name != "postgres":
        pytest.skip("SQLite serializes migrations through its file lock")
    engine = container.engine()
    other = await asyncpg.connect(**engine.config)  # another process, mid-migration
    try:
        await other.execute("SELECT pg_advisory_lock($1)", _MIGRATION_LOCK_KEY)
        waiting = asyncio.create_task(migrate(engine))
        await asyncio.sleep(0.5)
        assert not waiting.done(), "a second process must wait for the first one's migration"
        await other.execute("SELECT pg_advisory_unlock($1)", _MIGRATION_LOCK_KEY)
        await asyncio.wait_for(waiting, timeout=30)
    finally:
        await other.close()


async def test_screening_reads_the_review_and_the_failures_since_a_moment(
        container: Any) -> None:
    uow = container.uow()
    now = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
    day_ago = now - timedelta(hours=24)

    def payment(n: int, status: PaymentStatus, at: datetime, customer: str = "cus_s") -> Payment:
        return Payment(f"pay_s{n}", f"ord_s{n}", customer, "sandbox", Money(1000, "KRW"),
                       "card", f"pay_s{n}", status=status, created_at=at)

    async with uow() as u:
        assert await u.reviews.screening("ord_s", "cus_s", day_ago) == ScreeningRecord(
            None, 0, 0)
        for at in (now - timedelta(hours=30), now - timedelta(hours=1), now):
            await u.customers.record_login_failure("cus_s", at)
        await u.customers.record_login_failure("cus_other", now)
        for n, (status, at) in enumerate([
                (PaymentStatus.FAILED, now - timedelta(hours=2)),
                (PaymentStatus.FAILED, now - timedelta(hours=25)),  # before the day
                (PaymentStatus.CAPTURED, now)]):
            await u.payments.add(payment(n, status, at))
        await u.payments.add(payment(9, PaymentStatus.FAILED, now, customer="cus_other"))
        await u.reviews.add(FraudReview.open("ord_s", "cus_s", 0.7, ["velocity"], now))
        await u.commit()

    async with uow(read_only=True) as u:
        found = await u.reviews.screening("ord_s", "cus_s", day_ago)
    assert (found.failed_logins, found.failed_payments) == (2, 1)
    assert found.review is not None
    assert (found.review.order_id, found.review.reasons) == ("ord_s", ["velocity"])


def _order(order_id: str, customer_id: str) -> Order:
    return Order.place(
        order_id=order_id, customer_id=customer_id, currency="KRW",
        lines=[OrderLine("sku", "Mug", "sel_1", 1, Money(1000, "KRW"))],
        shipping_address=ShippingAddress("R", "L", "", "Seoul", "04524", "KR"),
        carrier="sandbox-express", note="", now=datetime(2026, 12, 3, 9, 0, tzinfo=UTC))


async def test_a_shipment_is_read_with_its_order_in_one_statement(
        container: Any, engine_name: str) -> None:
    uow = container.uow()
    order = _order("ord_sh", "cus_sh")
    shipment = Shipment("shp_1", "ord_sh", "sel_1", "sandbox-express")
    async with uow() as u:
        await u.orders.add(order)
        await u.shipments.add(shipment)
        await u.commit()
    async with uow(read_only=True) as u:
        with count_statements() as seen:
            found = await u.shipments.with_order("shp_1")
        assert await u.shipments.with_order("shp_none") is None
    assert found is not None
    assert (found[0].id, found[0].seller_id, found[0].status) == (
        "shp_1", "sel_1", shipment.status)
    assert (found[1].id, found[1].lines, found[1].shipping_address) == (
        "ord_sh", order.lines, order.shipping_address)
    if engine_name == "postgres":
        assert seen.count == 1


async def test_an_orders_payments_bring_its_shipments_and_operations_once(
        container: Any, engine_name: str) -> None:
    """Settling reads the order's payments, then its shipments and the payment's operation:
    the first read brings the other two, each given out once; a lock or a write of them in
    the same unit makes them read again."""
    uow = container.uow()
    at = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)
    async with uow() as u:
        await u.orders.add(_order("ord_ra", "cus_ra"))
        await u.payments.add(Payment("pay_ra", "ord_ra", "cus_ra", "sandbox",
                                     Money(1000, "KRW"), "card", "pay_ra", created_at=at))
        await u.shipments.add(Shipment("shp_ra", "ord_ra", "sel_1", "sandbox-express"))
        await u.operations.add(Operation("op_ra", "cus_ra", "payment", "payment:pay_ra", at))
        await u.commit()
    async with uow() as u:
        await u.orders.lock("ord_ra")
        with count_statements() as seen:
            [payment] = await u.payments.of_order("ord_ra")
            [shipment] = await u.shipments.of_order("ord_ra")
            operation = await u.operations.by_subject("payment:pay_ra")
        assert (payment.id, shipment.id) == ("pay_ra", "shp_ra")
        assert operation is not None and operation.id == "op_ra"
        assert seen.count == 1
        async with uow(read_only=True) as plain:  # read as usual: the same values
            assert shipment == await plain.shipments.get("shp_ra")
            assert operation == await plain.operations.get("op_ra")
        operation.progress("moving", at)
        await u.operations.save(operation)
        await u.commit()
    async with uow() as u:
        await u.payments.of_order("ord_ra")
        # A lock forgets what was read before it; given out once, then read again.
        await u.orders.lock("ord_ra")
        with count_statements() as seen:
            again = await u.operations.get("op_ra")
            await u.shipments.of_order("ord_ra")
        assert seen.count == 2
        assert again is not None and again.message == "moving"
        await u.payments.of_order("ord_ra")
        with count_statements() as seen:
            first = await u.operations.get("op_ra")
            second = await u.operations.get("op_ra")
        assert first == second
        assert seen.count == 1
