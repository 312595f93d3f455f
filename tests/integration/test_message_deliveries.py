"""Delivery records on each database: a promotion held through the quiet hours and sent at
08:00 once, one message id claimed by one of two workers at once, provider callbacks, the
two-yearly consent reminder."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from dependency_injector import providers

from adapters.persistence import tables as t
from application.messaging.dispatcher import MessageInFlight
from domain.commands import SendNotification
from domain.deliveries import Delivery, address_key
from domain.messages import Channel, DeliveryStatus
from tests.fakes import FakeClock
from tests.fakes.channel_senders import FakeChannelSender

KST_22 = datetime(2026, 12, 1, 13, 0, tzinfo=UTC)  # 22:00 in Seoul
PROMOTION = {"title": "Winter tea sale", "message": "Every green tea 20% off this week."}


class RecordingQueue:
    def __init__(self) -> None:
        self.outbox: list[str] = []

    def dispatch_outbox(self, message_ids: list[str], delay_seconds: float = 0.0) -> None:
        self.outbox.extend(message_ids)

    def dispatch_inbox(self, message_id: str) -> None:
        raise AssertionError("no callbacks here")


async def _shop(container: Any) -> tuple[FakeClock, FakeChannelSender, RecordingQueue]:
    clock, smtp, queue = FakeClock(KST_22), FakeChannelSender("smtp", "email"), RecordingQueue()
    container.clock.override(providers.Object(clock))
    container.queue.override(providers.Object(queue))
    container.email_senders.override(providers.Object({"smtp": smtp}))
    return clock, smtp, queue


async def _korean_customer(container: Any, **consents: bool) -> str:
    customer = await container.accounts().register(
        f"c{uuid.uuid4().hex[:8]}@example.com", "correct horse battery", country="KR")
    await container.accounts().set_consents(customer.id, consents)
    return str(customer.id)


async def _record(message_id: str) -> dict[str, Any]:
    row = await t.MessageDelivery.select().where(
        t.MessageDelivery.message_id == message_id).first()
    assert row is not None
    return dict(row)


async def test_a_promotion_waits_for_8_in_the_database_and_goes_once(container: Any) -> None:
    clock, smtp, queue = await _shop(container)
    customer_id = await _korean_customer(container, marketing_email=True)
    messaging = container.messaging()

    await messaging.send(SendNotification("promotion", PROMOTION, customer_id=customer_id),
                         "msg_promo_1")
    held = await _record("msg_promo_1")
    assert held["status"] == "deferred" and not smtp.sent
    assert held["not_before"] == datetime(2026, 12, 1, 23, 0, tzinfo=UTC)

    queue.outbox.clear()
    clock.advance(hours=10)
    assert await messaging.send_due() == 1
    assert await messaging.send_due() == 0  # handed over once
    [outbox_id] = queue.outbox
    await container.outbox().run(outbox_id)
    [mail] = smtp.sent
    assert mail.message_id == "msg_promo_1" and mail.content.subject.startswith("(광고)")
    sent = await _record("msg_promo_1")
    assert (sent["status"], sent["provider"], sent["params"] in ("{}", {})) == (
        "queued", "smtp", True)


async def test_two_workers_with_one_message_send_it_once(container: Any) -> None:
    _, smtp, _ = await _shop(container)
    customer_id = await _korean_customer(container)
    messaging = container.messaging()
    command = SendNotification("order_paid", {"order_id": "ord_1"}, customer_id=customer_id)

    outcomes = await asyncio.gather(*(messaging.send(command, "msg_paid_1") for _ in range(4)),
                                    return_exceptions=True)

    assert len(smtp.sent) == 1
    assert (await _record("msg_paid_1"))["status"] == "queued"
    # Those that found it being sent are retried by the outbox: by then it is done.
    assert all(o is None or isinstance(o, MessageInFlight) for o in outcomes), outcomes
    await messaging.send(command, "msg_paid_1")
    assert len(smtp.sent) == 1


async def test_a_claim_left_by_a_dead_worker_is_sent_once_by_one_retry(container: Any) -> None:
    clock, smtp, _ = await _shop(container)
    customer_id = await _korean_customer(container)
    command = SendNotification("order_paid", {"order_id": "ord_1"}, customer_id=customer_id)
    # A worker claimed the message, then died before calling the provider.
    now = clock.now()
    async with container.uow()(autocommit=True) as unit:
        await unit.messages.deliveries.claim(Delivery(
            "msg_paid_4", customer_id, "order_paid", DeliveryStatus.SENDING, now, now))
    messaging = container.messaging()

    with pytest.raises(MessageInFlight):  # within the lease: it may still be on its way
        await messaging.send(command, "msg_paid_4")
    clock.advance(seconds=container.settings().outbox_lease_seconds.total_seconds() + 1)
    outcomes = await asyncio.gather(*(messaging.send(command, "msg_paid_4") for _ in range(4)),
                                    return_exceptions=True)

    [mail] = smtp.sent
    assert mail.message_id == "msg_paid_4"
    assert all(o is None or isinstance(o, MessageInFlight) for o in outcomes), outcomes
    assert (await _record("msg_paid_4"))["status"] == "queued"


async def test_callbacks_move_the_record_and_a_bounce_suppresses_the_address(
        container: Any) -> None:
    _, smtp, _ = await _shop(container)
    customer_id = await _korean_customer(container)
    messaging = container.messaging()
    command = SendNotification("order_paid", {"order_id": "ord_1"}, customer_id=customer_id)
    await messaging.send(command, "msg_paid_2")

    assert await messaging.record_status("smtp", "smtp-1", DeliveryStatus.DELIVERED)
    assert not await messaging.record_status("smtp", "smtp-1", DeliveryStatus.SENT)
    assert await messaging.record_status("smtp", "smtp-1", DeliveryStatus.BOUNCED, "complaint")
    assert (await _record("msg_paid_2"))["status"] == "bounced"
    [suppressed] = await t.MessageSuppression.select()
    assert suppressed["reason"] == "complaint"

    # A complaint stops promotions only: the customer still hears about their orders.
    await messaging.send(command, "msg_paid_3")
    assert len(smtp.sent) == 2


async def test_a_hard_bounce_stops_every_later_message_to_that_address(
        container: Any) -> None:
    # The suppressions come back with the claim of the next message (one statement on
    # PostgreSQL): its email is not sent, and its record says why.
    _, smtp, _ = await _shop(container)
    customer_id = await _korean_customer(container)
    messaging = container.messaging()
    command = SendNotification("order_paid", {"order_id": "ord_1"}, customer_id=customer_id)
    await messaging.send(command, "msg_paid_5")
    assert await messaging.record_status("smtp", "smtp-1", DeliveryStatus.BOUNCED, "hard_bounce")

    await messaging.send(command, "msg_paid_6")

    assert [mail.message_id for mail in smtp.sent] == ["msg_paid_5"]
    record = await _record("msg_paid_6")
    assert (record["status"], record["error_code"]) == ("suppressed", "suppressed")


async def test_an_address_the_store_spells_otherwise_is_still_checked_for_suppression(
        container: Any) -> None:
    # PostgreSQL's btrim keeps an em space that Python's strip() drops: the store's key of
    # the address is not ours, so the suppressions are read again under our own keys.
    _, smtp, _ = await _shop(container)
    customer_id = await _korean_customer(container)
    email = "Ann@Example.com\u2003"
    await t.Customer.update({t.Customer.email: email}).where(t.Customer.id == customer_id)
    await t.MessageSuppression.insert(t.MessageSuppression(
        address_key=address_key(Channel.EMAIL, email), channel="email", reason="hard_bounce",
        created_at=KST_22))
    command = SendNotification("order_paid", {"order_id": "ord_1"}, customer_id=customer_id)

    await container.messaging().send(command, "msg_paid_7")

    assert smtp.sent == []
    record = await _record("msg_paid_7")
    assert (record["status"], record["error_code"]) == ("suppressed", "suppressed")


async def test_the_claim_reads_the_recipient_and_their_suppressions_under_our_keys(
        container: Any) -> None:
    # Both engines make the addresses' keys in SQL as domain.deliveries.address_key makes
    # them (SQLite through its sha256_hex), so the caller need not read suppressions again.
    customer_id = await _korean_customer(container, marketing_email=True)
    await t.Customer.update({t.Customer.email: " Ann@Example.com ", t.Customer.phone:
                             "+821012345678"}).where(t.Customer.id == customer_id)
    for token, minute in (("tok-old", 1), ("tok-new", 2)):
        await t.PushDevice.insert(t.PushDevice(token=token, customer_id=customer_id,
                                               platform="android",
                                               registered_at=KST_22.replace(minute=minute)))
    email, sms = address_key(Channel.EMAIL, "ann@example.com"), address_key(
        Channel.SMS, "+821012345678")
    pushes = [address_key(Channel.PUSH, token) for token in ("tok-new", "tok-old")]
    await t.MessageSuppression.insert(t.MessageSuppression(
        address_key=sms, channel="sms", reason="hard_bounce", created_at=KST_22))
    fresh = Delivery("msg_claim_1", customer_id, "order_paid", DeliveryStatus.SENDING, KST_22,
                     KST_22)

    async with container.uow()(autocommit=True) as unit:
        first = await unit.messages.deliveries.claim_reaching(fresh, ["email", "sms", "push"])
        again = await unit.messages.deliveries.claim_reaching(fresh, ["email"])

    assert first.found is None and first.reachable is not None  # claimed: ours to send
    customer, consents, devices = first.reachable
    assert (customer.id, consents.get("marketing_email"), devices) == (
        customer_id, True, ["tok-new", "tok-old"])
    assert sorted(first.address_keys) == sorted([email, sms, *pushes])
    assert first.suppressed == {sms: "hard_bounce"}
    assert again.found is not None and again.found.status is DeliveryStatus.SENDING
    assert (again.address_keys, again.suppressed) == ([email], {})


async def test_nothing_is_claimed_for_a_customer_who_is_gone(container: Any) -> None:
    _, smtp, _ = await _shop(container)
    command = SendNotification("order_paid", {"order_id": "ord_1"}, customer_id="cus_gone")

    await container.messaging().send(command, "msg_paid_8")

    assert smtp.sent == []
    assert await t.MessageDelivery.count().where(
        t.MessageDelivery.message_id == "msg_paid_8") == 0


async def test_an_opt_in_two_years_old_is_recalled_once(container: Any) -> None:
    clock, smtp, queue = await _shop(container)
    customer_id = await _korean_customer(container, marketing_email=True, marketing_sms=False)
    messaging = container.messaging()

    clock.advance(days=730)
    queue.outbox.clear()
    assert await messaging.remind_consents() == 1
    assert await messaging.remind_consents() == 0
    [outbox_id] = queue.outbox
    await container.outbox().run(outbox_id)
    [reminder] = smtp.sent
    assert reminder.template == "consent_reminder" and customer_id in reminder.message_id
    clock.advance(days=1)
    assert await messaging.remind_consents() == 0
