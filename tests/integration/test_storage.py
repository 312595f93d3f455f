"""What the tables hold, on each engine: times from the injected clock, JSON as JSON."""

from __future__ import annotations

import contextlib
import io
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from piccolo.querystring import QueryString

from adapters.payments.sandbox import SandboxGateway
from adapters.persistence.tables import (
    EvidenceRecord,
    InboxMessage,
    OutboxMessage,
    SandboxCharge,
    SandboxParcel,
)
from adapters.persistence.uow import PiccoloUnitOfWorkFactory
from adapters.sandbox_webhooks import SandboxWebhookSender
from adapters.shipping.sandbox import SandboxCarrier
from adapters.shipping.sandbox_tracking import SandboxTrackingPlan
from application.ports import IdempotencyRecord, InboundEvent, PaymentRequest, ShipmentRequest
from domain.evidence import EvidenceDraft
from domain.money import Money
from domain.orders import ShippingAddress
from domain.payments import Payment
from tests.fakes import FakeClock
from tests.helpers import eventually
from tests.sql_statements import count_statements


async def test_the_outbox_and_inbox_keep_time_by_the_injected_clock(container: Any) -> None:
    clock = FakeClock(datetime(2031, 5, 1, 12, 0, tzinfo=UTC))
    uow = PiccoloUnitOfWorkFactory(container.engine(), clock)
    async with uow() as u:
        message_id = await u.messages.outbox.add("SendNotification", {"x": 1})
        inbox_id = await u.messages.inbox.add("sandbox",
                                              InboundEvent("evt_1", "payment.succeeded", {}))
        await u.commit()
    outbox = await OutboxMessage.select().where(OutboxMessage.id == message_id).first()
    inbox = await InboxMessage.select().where(InboxMessage.id == inbox_id).first()
    assert _epoch(outbox["created_at"]) == clock.now().timestamp()
    assert _epoch(inbox["received_at"]) == clock.now().timestamp()
    async with uow() as u:
        # Nothing is overdue by the clock's time, whatever the wall clock says...
        assert await u.messages.outbox.unfinished(older_than_seconds=60, limit=10) == []
        assert await u.messages.inbox.unprocessed(older_than_seconds=60, limit=10) == []
        claimed = await u.messages.outbox.claim(message_id, lease_seconds=30)
        assert claimed is not None
        await u.commit()
    clock.advance(minutes=2)
    async with uow() as u:
        # ...and once the clock moves on, the lease has ended and both are due.
        assert await u.messages.outbox.unfinished(older_than_seconds=60, limit=10) == [message_id]
        assert await u.messages.inbox.unprocessed(older_than_seconds=60, limit=10) == [inbox_id]
        assert await u.messages.outbox.claim(message_id, lease_seconds=30) is not None


async def test_an_idempotency_key_expires_by_the_injected_clock(container: Any) -> None:
    clock = FakeClock(datetime(2031, 5, 1, 12, 0, tzinfo=UTC))
    uow = PiccoloUnitOfWorkFactory(container.engine(), clock)

    def record(request_hash: str) -> IdempotencyRecord:
        return IdempotencyRecord("cus_1", "k", request_hash, "in_flight", None, None,
                                 clock.now() + timedelta(hours=1), "POST /v1/orders")

    async with uow() as u:
        assert await u.idempotency.reserve(record("a" * 64)) is None
        await u.commit()
    async with uow() as u:
        taken = await u.idempotency.reserve(record("b" * 64))
        assert taken is not None and taken.request_hash == "a" * 64
    clock.advance(hours=2)
    async with uow(autocommit=True) as u:
        with count_statements() as statements:
            assert await u.idempotency.reserve(record("b" * 64)) is None  # expired: free again
    assert statements.count == 1  # the key taken over in the same upsert


async def test_a_callback_is_stored_with_its_evidence_once(
        container: Any, engine_name: str) -> None:
    uow = PiccoloUnitOfWorkFactory(container.engine(), FakeClock())
    event = InboundEvent("evt_9", "payment.succeeded", {"amount": 1000})
    draft = EvidenceDraft("sandbox", "webhook.received", "order:ord_9",
                          {"event_id": "evt_9"}, {"amount": 1000}, raw=b"{}")
    async with uow(autocommit=True) as u:
        with count_statements() as statements:
            first = await u.messages.inbox.add("sandbox", event, draft)
    async with uow(autocommit=True) as u:
        again = await u.messages.inbox.add("sandbox", event, draft)
        other = await u.messages.inbox.add("sandbox", InboundEvent("evt_10", "x", {}), draft)

    assert first is not None and again is None and other is not None
    kept = await EvidenceRecord.select().where(EvidenceRecord.subject == "order:ord_9")
    # Kept unsealed (no seq or hash yet), as any append is, one per new callback.
    assert [(row["kind"], row["seq"], row["hash"]) for row in kept] == [
        ("webhook.received", None, None)] * 2
    assert await InboxMessage.count().where(InboxMessage.event_id == "evt_9") == 1
    if engine_name == "postgres":
        assert statements.count == 1  # the callback and its evidence, one statement


async def test_a_callback_s_evidence_is_filed_under_its_payment_s_order(
        container: Any, engine_name: str) -> None:
    uow = PiccoloUnitOfWorkFactory(container.engine(), FakeClock())
    async with uow() as u:
        await u.payments.add(Payment("pay_f", "ord_f", "cus_f", "sandbox", Money(1000, "KRW"),
                                     "card", "pay_f", provider_reference="ref_f",
                                     created_at=datetime(2031, 5, 1, tzinfo=UTC)))
        await u.commit()
    draft = EvidenceDraft("sandbox", "webhook.received", "unknown", {}, {})
    async with uow(autocommit=True) as u:
        with count_statements() as statements:
            await u.messages.inbox.add("sandbox", InboundEvent("evt_f1", "x", {}), draft,
                                       ("ref_f", ""))
        await u.messages.inbox.add("sandbox", InboundEvent("evt_f2", "x", {}), draft,
                                   ("", "pay_f"))  # by our payment id
        await u.messages.inbox.add("sandbox", InboundEvent("evt_f3", "x", {}), draft,
                                   ("ref_none", ""))
        await u.messages.inbox.add("other", InboundEvent("evt_f4", "x", {}), draft,
                                   ("ref_f", ""))  # another provider's reference
    kept = await EvidenceRecord.select(EvidenceRecord.subject).where(
        EvidenceRecord.kind == "webhook.received").order_by(EvidenceRecord.id)
    assert [row["subject"] for row in kept] == ["order:ord_f", "order:ord_f", "unknown",
                                                "unknown"]
    if engine_name == "postgres":
        assert statements.count == 1


async def test_a_callback_rolled_back_with_its_unit_of_work_keeps_no_evidence(
        container: Any) -> None:
    uow = PiccoloUnitOfWorkFactory(container.engine(), FakeClock())
    draft = EvidenceDraft("sandbox", "webhook.received", "order:ord_8", {}, {})
    async with uow() as u:
        await u.messages.inbox.add("sandbox", InboundEvent("evt_8", "x", {}), draft)
        # left without commit
    assert await InboxMessage.count().where(InboxMessage.event_id == "evt_8") == 0
    assert await EvidenceRecord.count().where(EvidenceRecord.subject == "order:ord_8") == 0


class KeptCallbacks(SandboxWebhookSender):
    """A sandbox partner's callbacks, kept instead of sent."""

    def __init__(self, http: Any) -> None:
        super().__init__(http, "sandbox", "http://127.0.0.1:9/unused", "secret", "Signature")
        self.scheduled: list[tuple[float, dict[str, Any]]] = []
        self.sent: list[dict[str, Any]] = []

    def schedule(self, delays_and_events: list[tuple[float, dict[str, Any]]]) -> None:
        self.scheduled += delays_and_events

    async def deliver(self, event: dict[str, Any]) -> bool:
        self.sent.append(event)
        return True


async def test_the_sandbox_partners_keep_their_books_by_the_injected_clock(
    container: Any,
) -> None:
    clock = FakeClock(datetime(2031, 5, 1, 12, 0, tzinfo=UTC))
    callbacks = KeptCallbacks(container.http())
    gateway = SandboxGateway(callbacks, container.ledger(), ["whsec"], "http://127.0.0.1:9",
                             0, 0, 0, clock)
    update = await gateway.authorize(PaymentRequest(
        "pay_1", "ord_1", Money(1000, "KRW"), "card", "pm_sandbox_action_required", "key_1",
        "cus_1"))
    assert [event.occurred_at for event in update.events] == [clock.now().timestamp()]
    charge = await SandboxCharge.select().first()
    assert charge["created_at"] == clock.now()  # a time, read back as one on either engine
    clock.advance(minutes=5)
    assert await gateway.complete_action(update.provider_reference)
    [called_back] = await eventually(lambda: _kept(callbacks.sent), what="the callback")
    assert called_back["created"] == clock.now().timestamp()

    carrier = SandboxCarrier(SandboxTrackingPlan(callbacks, clock, 0.05), container.ledger(),
                             ["whsec"], 30, clock)
    await carrier.create_shipment(ShipmentRequest("shp_1", "ord_1", "key_2", ShippingAddress(
        "R", "L", "", "Seoul", "04524", "KR"), []))
    parcel = await SandboxParcel.select().first()
    assert parcel["created_at"] == clock.now()
    booked_at, callbacks.sent = clock.now(), []
    clock.advance(seconds=120)
    await carrier._tracking.send_due()
    assert [event["data"]["occurred_at"] for event in callbacks.sent] == [
        (booked_at + timedelta(seconds=30 * step)).isoformat() for step in range(1, 5)]


async def test_the_sandbox_gateway_answers_a_request_sent_again_with_its_first_charge(
        container: Any, engine_name: str) -> None:
    gateway = SandboxGateway(KeptCallbacks(container.http()), container.ledger(), ["whsec"],
                             "http://127.0.0.1:9", 0, 0, 0, FakeClock())
    request = PaymentRequest("pay_2", "ord_2", Money(1000, "KRW"), "card",
                             "pm_sandbox_success", "key_2", "cus_2")
    with count_statements() as seen:
        first = await gateway.authorize(request)
    if engine_name == "postgres":
        assert seen.texts == ["WITH"]  # the charge with the evidence of what was asked
    again = await gateway.authorize(request)
    assert again.provider_reference == first.provider_reference
    assert again.events == first.events
    assert await SandboxCharge.count() == 1
    [asked] = await EvidenceRecord.select().where(EvidenceRecord.kind == "provider.charge")
    context = asked["context"]
    context = json.loads(context) if isinstance(context, str) else context
    assert context["reference"] == first.provider_reference


async def _kept(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return events


def _epoch(value: Any) -> float:
    return value.timestamp() if isinstance(value, datetime) else float(value)


async def test_json_columns_are_jsonb_on_postgresql(container: Any, engine_name: str) -> None:
    engine = container.engine()
    if engine_name == "postgres":
        rows = await engine.run_querystring(QueryString(
            "SELECT table_name, column_name FROM information_schema.columns "
            "WHERE table_schema = current_schema() AND data_type = 'jsonb'"))
        jsonb = {(row["table_name"], row["column_name"]) for row in rows}
    else:
        jsonb = set()
    assert {("outbox_message", "payload"), ("inbox_message", "payload"),
            ("evidence_record", "payload"), ("evidence_record", "context"),
            ("payment", "history"), ("orders", "lines")} <= jsonb or engine_name == "sqlite"
    # Read back as the JSON that was written, on either engine; a NUL, which PostgreSQL
    # cannot store, arrives as U+FFFD, and the evidence that holds one still verifies.
    async with container.uow()() as u:
        message_id = await u.messages.outbox.add("SendNotification",
                                                 {"text": "a\x00b", "n": 7, "list": [1.5]})
        inbox_id = await u.messages.inbox.add("sandbox",
                                              InboundEvent("evt_nul", "k", {"x": "\x00"}))
        await u.evidence.append(EvidenceDraft("test", "note", "order:o1", {"n": "\x00"},
                                              {"body": "nul\x00here"}))
        await u.commit()
    async with container.uow()() as u:
        claimed = await u.messages.outbox.claim(message_id, 30)
        assert claimed is not None
        assert claimed.payload == {"text": "a\ufffdb", "n": 7, "list": [1.5]}
        assert inbox_id is not None
        taken = await u.messages.inbox.claim(inbox_id)
        assert taken is not None and taken.payload == {"x": "\ufffd"}
    report = await container.evidence().verify()
    assert report.ok and report.checked == 1


async def test_erasure_finds_the_customer_in_pending_outbox_payloads(container: Any) -> None:
    async with container.uow()() as u:
        message_id = await u.messages.outbox.add("SendNotification",
                                                 {"customer_id": "cus_9", "template": "t"})
        await u.privacy.erase("cus_9", "anon_9")
        await u.commit()
    row = await OutboxMessage.select(OutboxMessage.payload).where(
        OutboxMessage.id == message_id).first()
    assert json.loads(row["payload"]) == {"customer_id": "anon_9", "template": "t"}


# The old migrations, as the last release that had them (read from git history).


async def test_the_migrations_describe_the_tables_exactly() -> None:
    from piccolo.apps.migrations.commands.new import AutoMigrationManager

    from adapters.persistence.piccolo_app import APP_CONFIG

    with contextlib.redirect_stdout(io.StringIO()):
        alterations = await AutoMigrationManager().get_alter_statements(APP_CONFIG)
    assert [s for a in alterations for s in a.statements] == [], (
        "tables.py and the migrations differ: add a migration "
        "(piccolo migrations new mall --auto)")
