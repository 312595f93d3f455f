"""The dispatcher through the bus and the outbox, on fakes: consent and the Korean rules,
quiet hours, fallback across providers and channels, delivery records moved by provider
callbacks, suppression, and each message id sent once."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from dependency_injector import providers

from application.messaging.contact import ContactChange
from domain.commands import SendNotification
from domain.consent_rules import PROMOTION_MARK
from domain.customers import Customer
from domain.deliveries import Delivery
from domain.errors import ProviderUnavailable
from domain.messages import DeliveryStatus
from tests.fakes.channel_senders import FakeChannelSender
from tests.unit.application.harness import Mall, build_mall

PROMOTION = {"title": "Winter tea sale", "message": "Every green tea 20% off this week."}
KST_22 = datetime(2026, 12, 1, 13, 0, tzinfo=UTC)  # 22:00 in Seoul
KST_08_NEXT_DAY = datetime(2026, 12, 1, 23, 0, tzinfo=UTC)


class Senders:
    def __init__(self) -> None:
        self.smtp = FakeChannelSender("smtp", "email")
        self.backup_email = FakeChannelSender("backup-smtp", "email")
        self.twilio = FakeChannelSender("twilio", "sms")
        self.fcm = FakeChannelSender("fcm", "push")

    def every(self) -> list[FakeChannelSender]:
        return [self.smtp, self.backup_email, self.twilio, self.fcm]


@pytest.fixture
def senders() -> Senders:
    return Senders()


@pytest.fixture
async def shop(tmp_path: Path, senders: Senders) -> Any:
    mall = build_mall(tmp_path, message_channels={"promotion": ["sms", "email"]})
    mall.container.email_senders.override(providers.Object(
        {"smtp": senders.smtp, "backup-smtp": senders.backup_email}))
    mall.container.sms_senders.override(providers.Object({"twilio": senders.twilio}))
    mall.container.push_senders.override(providers.Object({"fcm": senders.fcm}))
    yield mall
    mall.container.reset_override()


async def _at(mall: Mall, moment: datetime) -> None:
    mall.clock.advance(seconds=(moment - mall.clock.now()).total_seconds())


async def _consent(mall: Mall, customer: Customer, **granted: bool) -> None:
    await mall.container.accounts().set_consents(customer.id, granted)


async def _send(mall: Mall, customer: Customer, template: str = "promotion",
                params: dict[str, Any] | None = None, **fields: Any) -> str:
    [message_id] = await mall.queued(SendNotification(
        template, dict(PROMOTION if params is None else params), customer_id=customer.id,
        **fields))
    await mall.container.outbox().run(message_id)
    return fields.get("message_id") or message_id


def _delivery(mall: Mall, message_id: str) -> Delivery:
    found: Delivery = mall.db.tables["deliveries"][message_id]
    return found


async def test_a_promotion_at_22_korean_time_without_night_consent_waits_for_8(
        shop: Mall, senders: Senders) -> None:
    customer = await shop.customer(country="KR")
    await _consent(shop, customer, marketing_email=True)
    await _at(shop, KST_22)

    message_id = await _send(shop, customer)

    assert all(not s.sent for s in senders.every())
    held = _delivery(shop, message_id)
    assert held.status == DeliveryStatus.DEFERRED and held.error_code == "quiet_hours"
    assert held.not_before == KST_08_NEXT_DAY  # 08:00 in Seoul
    [deferred] = shop.db.evidence("message.deferred")
    assert deferred.payload["consent"] == "marketing_email"

    # Not a minute early; at 08:00 the periodic job sends it, under its own message id.
    await _at(shop, KST_08_NEXT_DAY - timedelta(minutes=1))
    assert await shop.container.messaging().send_due() == 0
    await _at(shop, KST_08_NEXT_DAY)
    assert await shop.container.messaging().send_due() == 1
    await shop.run_outbox()
    [mail] = senders.smtp.sent
    assert mail.message_id == message_id and mail.to == customer.email
    assert mail.content.subject.startswith(PROMOTION_MARK)
    assert "Mall" in mail.content.text and "/v1/unsubscribe/" in mail.content.text
    assert mail.headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert _delivery(shop, message_id).status == DeliveryStatus.QUEUED
    assert await shop.container.messaging().send_due() == 0  # sent once


async def test_a_promotion_without_marketing_consent_is_not_sent(
        shop: Mall, senders: Senders) -> None:
    customer = await shop.customer(country="KR")
    await _consent(shop, customer, marketing_sms=False)

    message_id = await _send(shop, customer)

    assert all(not s.sent for s in senders.every())
    record = _delivery(shop, message_id)
    assert (record.status, record.error_code) == (DeliveryStatus.SUPPRESSED, "no_consent")
    assert shop.db.outbox()[-1].status == "done"  # nothing to retry


async def test_a_consented_promotion_starts_with_the_advertising_mark(
        shop: Mall, senders: Senders) -> None:
    customer = await shop.customer(country="KR")
    await _consent(shop, customer, marketing_email=True, marketing_night=True)
    await _at(shop, KST_22)  # night-time consent given: no waiting

    message_id = await _send(shop, customer)

    [mail] = senders.smtp.sent
    assert mail.content.subject.startswith("(광고)")
    assert mail.content.text.rstrip().endswith(
        mail.headers["List-Unsubscribe"].strip("<>"))  # how to opt out, last
    [sent] = shop.db.evidence("message.sent")
    assert sent.payload["consent"] == "marketing_email,marketing_night"
    assert _delivery(shop, message_id).consent == "marketing_email,marketing_night"


async def test_a_promotion_abroad_carries_no_korean_mark_but_its_unsubscribe_link(
        shop: Mall, senders: Senders) -> None:
    customer = await shop.customer(country="FR")
    await _consent(shop, customer, marketing_email=True)
    await _at(shop, KST_22)  # 14:00 in Paris: no quiet hours abroad anyway

    await _send(shop, customer)

    [mail] = senders.smtp.sent
    assert not mail.content.subject.startswith(PROMOTION_MARK)
    assert mail.headers["List-Unsubscribe"].startswith("<http")


async def test_a_provider_down_passes_the_message_to_the_next_then_to_the_next_channel(
        shop: Mall, senders: Senders) -> None:
    customer = await shop.customer()
    await shop.container.contact().change(customer.id, ContactChange(phone="+821012345678"))
    senders.twilio.error = ProviderUnavailable("twilio down")
    senders.smtp.error = ProviderUnavailable("smtp down")

    # A delivery problem: push first (no device), then SMS (down), then email.
    message_id = await _send(shop, customer, "delivery_exception",
                             {"order_id": "ord_1", "incident_id": "inc_1"})

    assert senders.twilio.calls == 1 and senders.smtp.calls == 1
    [mail] = senders.backup_email.sent
    assert mail.to == customer.email
    record = _delivery(shop, message_id)
    assert (record.channel, record.provider, record.status) == (
        "email", "backup-smtp", DeliveryStatus.QUEUED)


async def test_sms_comes_before_email_when_the_customer_has_a_phone(
        shop: Mall, senders: Senders) -> None:
    customer = await shop.customer()
    await shop.container.contact().change(customer.id, ContactChange(phone="+82 10-1234-5678"))

    await _send(shop, customer, "delivery_exception", {"order_id": "ord_1",
                                                       "incident_id": "inc_1"})

    [sms] = senders.twilio.sent
    assert sms.to == "+821012345678" and not senders.smtp.sent


async def test_when_every_provider_is_down_the_command_is_retried_and_sent_once(
        shop: Mall, senders: Senders) -> None:
    customer = await shop.customer()
    senders.smtp.error = senders.backup_email.error = ProviderUnavailable("down")

    [message_id] = await shop.queued(SendNotification("order_paid", {"order_id": "ord_1"},
                                                      customer_id=customer.id))
    relay = shop.container.outbox()
    with pytest.raises(ProviderUnavailable):
        await relay.run(message_id)
    assert message_id not in shop.db.tables["deliveries"]  # given back for the retry

    senders.smtp.error = senders.backup_email.error = None
    shop.clock.advance(seconds=5)
    await relay.run(message_id)
    await relay.run(message_id)
    assert len(senders.smtp.sent) == 1


async def test_one_message_id_is_never_sent_twice(shop: Mall, senders: Senders) -> None:
    customer = await shop.customer()
    for _ in range(2):  # a campaign's command written twice, or retried after a crash
        await _send(shop, customer, "order_paid", {"order_id": "ord_1"},
                    message_id=f"cmp:c1:{customer.id}")
    assert len(senders.smtp.sent) == 1


async def test_status_callbacks_move_the_record_forward_only(
        shop: Mall, senders: Senders) -> None:
    customer = await shop.customer()
    message_id = await _send(shop, customer, "order_paid", {"order_id": "ord_1"})
    messaging = shop.container.messaging()

    assert await messaging.record_status("smtp", "smtp-1", DeliveryStatus.SENT)
    assert await messaging.record_status("smtp", "smtp-1", DeliveryStatus.DELIVERED)
    assert not await messaging.record_status("smtp", "smtp-1", DeliveryStatus.SENT)  # late
    assert not await messaging.record_status("smtp", "smtp-1", DeliveryStatus.DELIVERED)
    assert not await messaging.record_status("twilio", "smtp-1", DeliveryStatus.FAILED)
    assert not await messaging.record_status("smtp", "nope", DeliveryStatus.FAILED)
    assert _delivery(shop, message_id).status == DeliveryStatus.DELIVERED
    statuses = [e.payload["outcome"] for e in shop.db.evidence("message.status")]
    assert statuses == ["sent", "delivered"]


async def test_a_hard_bounce_suppresses_the_address(shop: Mall, senders: Senders) -> None:
    customer = await shop.customer()
    await _send(shop, customer, "order_paid", {"order_id": "ord_1"})
    messaging = shop.container.messaging()

    assert await messaging.record_status("smtp", "smtp-1", DeliveryStatus.BOUNCED,
                                         "550 5.1.1")
    assert not await messaging.record_status("smtp", "smtp-1", DeliveryStatus.DELIVERED)
    message_id = await _send(shop, customer, "order_paid", {"order_id": "ord_2"})

    assert len(senders.smtp.sent) == 1
    record = _delivery(shop, message_id)
    assert (record.status, record.error_code) == (DeliveryStatus.SUPPRESSED, "suppressed")


async def test_a_refused_address_is_suppressed_and_the_next_channel_tried(
        shop: Mall, senders: Senders) -> None:
    customer = await shop.customer()
    await shop.container.contact().change(customer.id, ContactChange(phone="+821012345678"))
    senders.smtp.refusals[customer.email] = "hard_bounce"

    # Awaiting a deposit: email, then SMS.
    await _send(shop, customer, "awaiting_deposit", {"order_id": "ord_1"})
    await _send(shop, customer, "awaiting_deposit", {"order_id": "ord_2"})

    assert senders.smtp.calls == 1  # never tried again
    assert len(senders.twilio.sent) == 2 and not senders.backup_email.sent
    [rejected] = shop.db.evidence("recipient.rejected")
    assert rejected.payload["reason"] == "hard_bounce"
    assert customer.email not in json.dumps(rejected.payload)


async def test_an_sms_stop_records_the_opt_out_and_email_takes_over(
        shop: Mall, senders: Senders) -> None:
    customer = await shop.customer(country="KR")
    await shop.container.contact().change(customer.id, ContactChange(phone="+821012345678"))
    await _consent(shop, customer, marketing_sms=True, marketing_email=True)
    senders.twilio.refusals["+821012345678"] = "opted_out"

    await _send(shop, customer)  # promotions: SMS, then email (settings)

    consents = await shop.container.accounts().consents(customer.id)
    assert consents["marketing_sms"] is False and consents["marketing_email"] is True
    withdrawn = [e for e in shop.db.evidence("consent.changed")
                 if e.source == "provider:twilio"]
    assert withdrawn and withdrawn[0].payload["changes"] == {"marketing_sms": False}
    [mail] = senders.smtp.sent
    assert mail.content.subject.startswith(PROMOTION_MARK)


async def test_evidence_of_a_send_masks_the_address_and_keeps_no_body(
        shop: Mall, senders: Senders) -> None:
    customer = await shop.customer()
    message_id = await _send(shop, customer, "verify_email",
                             {"link": "https://mall.example/verify?token=secret-token"})

    [mail] = senders.smtp.sent
    [sent] = shop.db.evidence("message.sent")
    written = json.dumps([sent.payload, sent.context])
    assert customer.email not in written and "secret-token" not in written
    assert mail.content.text[:20] not in written
    assert sent.payload["to"] == f"{customer.email[0]}***@example.com"
    assert sent.payload["provider_message_id"] == "smtp-1"
    assert sent.payload["version"] and sent.context["message_id"] == message_id
    assert "secret-token" not in json.dumps(_delivery(shop, message_id).params)


async def test_messages_are_written_in_the_customers_language(
        shop: Mall, senders: Senders) -> None:
    korean = await shop.customer(country="KR")
    english = await shop.customer(country="KR")
    await shop.container.contact().change(english.id, ContactChange(language="en"))

    await _send(shop, korean, "order_paid", {"order_id": "ord_1"})
    await _send(shop, english, "order_paid", {"order_id": "ord_2"})

    first, second = senders.smtp.sent
    assert any("\uac00" <= ch <= "\ud7a3" for ch in first.content.subject)  # Hangul
    assert not any("\uac00" <= ch <= "\ud7a3" for ch in second.content.subject)


async def test_the_mailbox_stands_in_for_every_channel_by_default(tmp_path: Path) -> None:
    mall = build_mall(tmp_path)
    customer = await mall.customer()
    await _send(mall, customer, "order_paid", {"order_id": "ord_1"})
    [kept] = mall.notifier.sent
    assert (kept.channel, kept.recipient, kept.params) == ("email", customer.email,
                                                            {"order_id": "ord_1"})
    mall.container.reset_override()


async def test_every_opt_in_is_recalled_to_its_customer_once_every_two_years(
        shop: Mall, senders: Senders) -> None:
    customer = await shop.customer(country="KR")
    await _consent(shop, customer, marketing_email=True, marketing_sms=False)
    messaging = shop.container.messaging()

    shop.clock.advance(days=729)
    assert await messaging.remind_consents() == 0
    shop.clock.advance(days=1)
    assert await messaging.remind_consents() == 1
    assert await messaging.remind_consents() == 0  # queued already
    await shop.run_outbox()
    assert await messaging.remind_consents() == 0  # sent already
    [reminder] = [e for e in senders.smtp.sent if e.template == "consent_reminder"]
    assert reminder.content.subject == "광고성 정보 수신동의 안내"
    assert "광고성 이메일" in reminder.content.text and "/v1/unsubscribe/" in reminder.content.text

    shop.clock.advance(days=730)  # two more years: once more
    assert await messaging.remind_consents() == 1
    await shop.run_outbox()
    assert [e.template for e in senders.smtp.sent].count("consent_reminder") == 2


async def test_push_goes_first_to_the_newest_device_and_a_gone_one_is_removed(
        shop: Mall, senders: Senders) -> None:
    customer = await shop.customer()
    devices = shop.container.push_devices()
    await devices.register(customer.id, "old-phone-token", "android")
    shop.clock.advance(minutes=1)
    await devices.register(customer.id, "new-phone-token", "ios")
    senders.fcm.refusals["new-phone-token"] = "unregistered"

    message_id = await _send(shop, customer, "delivery_exception",
                             {"order_id": "ord_1", "incident_id": "inc_1"})

    [push] = senders.fcm.sent
    assert push.to == "old-phone-token" and not senders.twilio.sent and not senders.smtp.sent
    assert [d.token for d in await devices.of_customer(customer.id)] == ["old-phone-token"]
    record = _delivery(shop, message_id)
    assert (record.channel, record.masked_address) == ("push", "old-ph…")


async def test_push_down_passes_the_message_to_sms_then_email(
        shop: Mall, senders: Senders) -> None:
    customer = await shop.customer()
    await shop.container.push_devices().register(customer.id, "phone-token", "android")
    await shop.container.contact().change(customer.id, ContactChange(phone="+821012345678"))
    senders.fcm.error = senders.twilio.error = ProviderUnavailable("down")

    message_id = await _send(shop, customer, "delivery_exception",
                             {"order_id": "ord_1", "incident_id": "inc_1"})

    assert (senders.fcm.calls, senders.twilio.calls) == (1, 1)
    [mail] = senders.smtp.sent
    assert mail.to == customer.email and _delivery(shop, message_id).channel == "email"


async def test_an_account_without_a_real_address_gets_no_email(
        shop: Mall, senders: Senders) -> None:
    customer = await shop.customer(email="naver-0123456789abcdef01234567@users.invalid")
    message_id = await _send(shop, customer, "order_paid", {"order_id": "ord_1"})
    assert senders.smtp.calls == 0
    record = _delivery(shop, message_id)
    assert (record.status, record.error_code) == (DeliveryStatus.SUPPRESSED, "no_address")
