"""The outbox relay: retries, giving up loudly, and re-sending work nobody finished."""

from __future__ import annotations

from typing import Any

from adapters.persistence.tables import Incident, OutboxMessage
from application.ports import InboundEvent, Notification
from application.transactions import send
from domain.commands import Command, SendNotification, TrackEvent
from domain.errors import ProviderUnavailable
from tests.fakes import FakeAlerts


class FailingNotifier:
    def __init__(self) -> None:
        self.calls = 0

    async def send(self, notification: Notification) -> None:
        self.calls += 1
        raise ProviderUnavailable("the e-mail provider is down")


class RecordingQueue:
    def __init__(self) -> None:
        self.outbox: list[str] = []
        self.inbox: list[str] = []

    def dispatch_outbox(self, message_ids: list[str], delay_seconds: float = 0.0) -> None:
        self.outbox.extend(message_ids)

    def dispatch_inbox(self, message_id: str) -> None:
        self.inbox.append(message_id)


async def _add(container: Any, command: Command) -> str:
    async with container.uow()() as uow:
        message_id: str = await send(uow, command)
        await uow.commit()
    return message_id


async def test_a_failing_job_is_retried_then_gives_up_with_incident_and_alert(
    settings_factory: Any,
) -> None:
    import bootstrap
    from tests.conftest import reset_database

    container = bootstrap.build(settings_factory(outbox_max_attempts=3))
    await reset_database(container)
    notifier, alerts = FailingNotifier(), FakeAlerts()
    container.notifier.override(notifier)
    container.alerts.override(alerts)
    message_id = await _add(container, SendNotification("order_paid", audience="seller",
                                                         seller_id="s1"))
    relay = container.outbox()
    for attempt in (1, 2):
        try:
            await relay.run(message_id)
        except ProviderUnavailable:
            pass
        else:
            raise AssertionError(f"attempt {attempt} should have raised to be retried")
        row = await OutboxMessage.select().where(OutboxMessage.id == message_id).first()
        assert row["status"] == "pending" and row["attempts"] == attempt
        assert "ProviderUnavailable" in row["last_error"]
    assert await relay.run(message_id) is True  # the last attempt gives up instead of raising
    row = await OutboxMessage.select().where(OutboxMessage.id == message_id).first()
    assert row["status"] == "dead" and notifier.calls == 3
    incidents = await Incident.select().where(Incident.subject == f"outbox:{message_id}")
    assert len(incidents) == 1 and incidents[0]["kind"] == "job_failed"
    assert [a.severity for a in alerts.alerts] == ["critical"]
    assert await relay.run(message_id) is True and notifier.calls == 3  # dead stays dead


async def test_the_sweep_resends_work_that_was_never_delivered(container: Any) -> None:
    queue = RecordingQueue()
    container.queue.override(queue)
    container.outbox.reset()
    lost = await _add(container, TrackEvent("c", "x"))
    async with container.uow()() as uow:
        inbox_id = await uow.messages.inbox.add("sandbox",
                                                InboundEvent("evt_lost", "payment.x", {}))
        await uow.commit()
    relay = container.outbox()
    assert await relay.sweep(older_than_seconds=3600) == 0
    assert await relay.sweep(older_than_seconds=-1) == 2
    assert queue.outbox == [lost] and queue.inbox == [inbox_id]
    assert await relay.run(lost) is True
    queue.outbox.clear()
    await relay.sweep(older_than_seconds=-1)
    assert queue.outbox == []  # done work is not sent again
