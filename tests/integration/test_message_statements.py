"""What sending one message and queueing one analytics event cost on PostgreSQL, counted:
the claim with the recipient and their addresses' suppressions, then the outcome (with the
dev mailbox's own row, when it is the sender); the event queued with its consent read and
its outbox message ended, together."""

from __future__ import annotations

from typing import Any

import pytest
from dependency_injector import providers

from adapters.messaging.mailbox import DevMailbox
from adapters.persistence import tables as t
from application.transactions import performing
from domain.commands import SendNotification, TrackEvent
from tests.integration.test_message_deliveries import _korean_customer, _shop
from tests.sql_statements import count_statements

pytestmark = pytest.mark.postgres


@pytest.fixture
def engine_name() -> str:
    return "postgres"


async def test_an_order_notification_is_two_statements(container: Any) -> None:
    _, smtp, _ = await _shop(container)
    customer_id = await _korean_customer(container)
    command = SendNotification("order_paid", {"order_id": "ord_1"}, customer_id=customer_id)

    with count_statements() as seen:
        await container.messaging().send(command, "msg_paid_1")

    assert [mail.message_id for mail in smtp.sent] == ["msg_paid_1"]
    # The claim with the recipient and their addresses' suppressions; the outcome.
    assert [text.strip() for text in seen.texts] == ["WITH", "WITH"], seen.texts


async def test_a_message_kept_by_the_dev_mailbox_commits_with_its_outcome(
        container: Any) -> None:
    """The dev mailbox writes to our own database: its row goes in the statement that
    records the message sent, so a message costs two statements there too."""
    clock, _, _ = await _shop(container)
    mailbox = DevMailbox(clock)
    container.email_senders.override(providers.Object({"mailbox": mailbox.sender("email")}))
    customer_id = await _korean_customer(container)
    command = SendNotification("order_paid", {"order_id": "ord_1"}, customer_id=customer_id)

    with count_statements() as seen:
        await container.messaging().send(command, "msg_paid_mbx")

    assert [text.strip() for text in seen.texts] == ["WITH", "WITH"], seen.texts
    [kept] = await mailbox.messages(template="order_paid")
    assert kept.message_id == "msg_paid_mbx"
    record = await t.MessageDelivery.select(t.MessageDelivery.status).where(
        t.MessageDelivery.message_id == "msg_paid_mbx").first()
    assert record is not None and record["status"] == "sent"


async def test_a_tracked_milestone_is_queued_with_its_consent_and_message_in_one_statement(
        container: Any) -> None:
    customer_id = await _korean_customer(container, analytics=True)
    ids = []
    for _ in range(2):
        async with container.uow()() as unit:
            ids.append(await unit.messages.outbox.add("TrackEvent", {}))
            await unit.commit()
    event = TrackEvent(customer_id, "Order Completed", {"order_ref": "ord_1"})
    with performing(ids[0]):  # the first also reads the live credentials (kept a while)
        await container.bus().handle(event, message_id=ids[0])

    with count_statements() as seen, performing(ids[1]):
        await container.bus().handle(event, message_id=ids[1])

    # The consent read, the event queued and its message ended: all one statement.
    assert [text.strip() for text in seen.texts] == ["WITH"], seen.querystrings
    queued = await t.AnalyticsDelivery.select(t.AnalyticsDelivery.message_id)
    assert sorted(row["message_id"] for row in queued) == sorted(ids)
    ended = await t.OutboxMessage.select(t.OutboxMessage.status).where(
        t.OutboxMessage.id.is_in(ids))
    assert [row["status"] for row in ended] == ["done", "done"]
