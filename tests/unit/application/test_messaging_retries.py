"""The dispatcher when a send does not simply go: a claim left by a worker that died before
calling the provider, a channel chosen by the sender (a campaign's), a message the outbox
gives up on."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from dependency_injector import providers

from application.messaging.contact import ContactChange
from application.messaging.dispatcher import MessageInFlight
from domain.commands import SendNotification
from domain.deliveries import Delivery
from domain.errors import ProviderUnavailable
from domain.messages import DeliveryStatus
from tests.fakes.channel_senders import FakeChannelSender
from tests.unit.application.harness import MAX_ATTEMPTS, Mall, build_mall

PROMOTION = {"title": "Winter tea sale", "message": "Every green tea 20% off this week."}
LEASE_SECONDS = 90.0


@pytest.fixture
async def shop(tmp_path: Path) -> AsyncIterator[Mall]:
    mall = build_mall(tmp_path, outbox_lease_seconds=LEASE_SECONDS)
    mall.container.email_senders.override(providers.Object(
        {"smtp": FakeChannelSender("smtp", "email")}))
    mall.container.sms_senders.override(providers.Object(
        {"twilio": FakeChannelSender("twilio", "sms")}))
    yield mall
    mall.container.reset_override()


def _sender(mall: Mall, channel: str) -> FakeChannelSender:
    senders = (mall.container.email_senders() if channel == "email"
               else mall.container.sms_senders())
    found: FakeChannelSender = next(iter(senders.values()))
    return found


def _delivery(mall: Mall, message_id: str) -> Delivery:
    found: Delivery = mall.db.tables["deliveries"][message_id]
    return found


async def test_a_claim_left_by_a_dead_worker_is_taken_over_after_the_lease(
        shop: Mall) -> None:
    customer = await shop.customer()
    [message_id] = await shop.queued(SendNotification("order_paid", {"order_id": "ord_1"},
                                                      customer_id=customer.id))
    # The worker claimed the message and died before calling the provider.
    now = shop.clock.now()
    async with shop.container.uow()() as unit:
        await unit.messages.deliveries.claim(Delivery(
            message_id, customer.id, "order_paid", DeliveryStatus.SENDING, now, now))
        await unit.commit()
    smtp, relay = _sender(shop, "email"), shop.container.outbox()

    # A retry within the lease cannot tell a dead sender from a slow one: it comes back later.
    shop.clock.advance(seconds=LEASE_SECONDS - 1)
    with pytest.raises(MessageInFlight):
        await relay.run(message_id)
    assert not smtp.sent and _delivery(shop, message_id).status == DeliveryStatus.SENDING

    shop.clock.advance(seconds=2)
    await relay.run(message_id)
    [mail] = smtp.sent
    assert mail.message_id == message_id  # the same id: a provider that dedupes sees it
    assert _delivery(shop, message_id).status == DeliveryStatus.QUEUED

    shop.clock.advance(seconds=LEASE_SECONDS * 2)
    await shop.container.messaging().send(
        SendNotification("order_paid", {"order_id": "ord_1"}, customer_id=customer.id),
        message_id)
    assert len(smtp.sent) == 1  # sent: never again


async def test_a_fresh_claim_is_not_taken_over(shop: Mall) -> None:
    customer = await shop.customer()
    command = SendNotification("order_paid", {"order_id": "ord_1"}, customer_id=customer.id)
    now = shop.clock.now()
    async with shop.container.uow()() as unit:
        await unit.messages.deliveries.claim(Delivery(
            "msg_busy", customer.id, "order_paid", DeliveryStatus.SENDING, now, now))
        await unit.commit()
    with pytest.raises(MessageInFlight):
        await shop.container.messaging().send(command, "msg_busy")
    assert not _sender(shop, "email").sent


async def test_a_message_for_one_channel_never_goes_by_another(shop: Mall) -> None:
    customer = await shop.customer()
    await shop.container.accounts().set_consents(customer.id, {
        "marketing_email": True, "marketing_sms": True, "marketing_night": True})
    smtp, twilio = _sender(shop, "email"), _sender(shop, "sms")

    # No phone: an SMS campaign's message is not sent at all, though email would reach them.
    [no_phone] = await shop.queued(SendNotification("promotion", PROMOTION,
                                                    customer_id=customer.id, channel="sms"))
    await shop.container.outbox().run(no_phone)
    assert not smtp.sent and not twilio.sent
    assert _delivery(shop, no_phone).status == DeliveryStatus.SUPPRESSED

    # With a phone and SMS down: retried later, never handed to email meanwhile.
    await shop.container.contact().change(customer.id, ContactChange(phone="+821012345678"))
    twilio.error = ProviderUnavailable("twilio down")
    [down] = await shop.queued(SendNotification("promotion", PROMOTION,
                                                customer_id=customer.id, channel="sms"))
    with pytest.raises(ProviderUnavailable):
        await shop.container.outbox().run(down)
    assert not smtp.sent

    twilio.error = None
    await shop.container.outbox().run(down)
    [sms] = twilio.sent
    assert sms.message_id == down and not smtp.sent
    assert _delivery(shop, down).channel == "sms"


async def test_a_message_the_outbox_gives_up_on_is_recorded_failed(shop: Mall) -> None:
    customer = await shop.customer()
    _sender(shop, "email").error = ProviderUnavailable("smtp down")
    [message_id] = await shop.queued(SendNotification("order_paid", {"order_id": "ord_1"},
                                                      customer_id=customer.id))
    relay = shop.container.outbox()
    for _ in range(MAX_ATTEMPTS - 1):
        with pytest.raises(ProviderUnavailable):
            await relay.run(message_id)
        assert message_id not in shop.db.tables["deliveries"]  # free for the next try
    await relay.run(message_id)  # the last attempt: set aside

    record = _delivery(shop, message_id)
    assert (record.status, record.error_code) == (DeliveryStatus.FAILED, "ProviderUnavailable")
    assert record.customer_id == customer.id and record.template == "order_paid"
    [given_up] = [e for e in shop.db.evidence("message.not_sent")
                  if e.payload["outcome"] == "given_up"]
    assert given_up.context == {"message_id": message_id}
    # A late retry of the same message id finds it ended: nothing is sent.
    _sender(shop, "email").error = None
    await shop.container.messaging().send(
        SendNotification("order_paid", {"order_id": "ord_1"}, customer_id=customer.id),
        message_id)
    assert not _sender(shop, "email").sent
