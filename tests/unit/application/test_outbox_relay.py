"""The outbox relay on fakes: each stored command reaches the bus once, with retries, a
sweep, and an incident and an alert when it never succeeds."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, cast

import pytest

from application.outbox import OutboxRelay
from application.transactions import commit_and_dispatch, send
from domain.commands import RaiseAlert, SendNotification, TrackEvent
from domain.errors import ProviderUnavailable
from domain.orders import Order
from tests.unit.application.harness import MAX_ATTEMPTS, Mall


def _message(mall: Mall, message_id: str) -> tuple[str, int]:
    [found] = [(m.status, m.attempts) for m in mall.db.outbox() if m.id == message_id]
    return found


async def test_commands_are_stored_and_handed_on_only_when_the_transaction_commits(
        mall: Mall) -> None:
    async with mall.container.uow()() as unit:
        await send(unit, RaiseAlert("warning", "test", "dropped"))
        # no commit: rolled back
    assert mall.db.outbox() == [] and mall.queue.outbox == []
    async with mall.container.uow()() as unit:
        message_id = await send(unit, RaiseAlert("warning", "test", "kept"))
        await commit_and_dispatch(unit, mall.queue)
    assert mall.queue.outbox == [message_id]
    assert mall.db.commands() == [RaiseAlert("warning", "test", "kept")]


async def test_a_command_is_delivered_once_even_when_the_broker_sends_it_twice(
        mall: Mall) -> None:
    [message_id] = await mall.queued(RaiseAlert("warning", "test", "once"))
    relay = mall.container.outbox()
    assert await relay.run(message_id) is True
    assert await relay.run(message_id) is True
    assert [a.summary for a in mall.alerts.alerts] == ["once"]
    assert _message(mall, message_id) == ("done", 0)


async def test_a_failure_is_released_for_a_retry_with_its_error(mall: Mall) -> None:
    customer = await mall.customer()
    await mall.run_outbox()
    mall.notifier.error = ProviderUnavailable("smtp down")
    [message_id] = await mall.queued(SendNotification("hello", customer_id=customer.id))
    relay = mall.container.outbox()
    with pytest.raises(ProviderUnavailable):
        await relay.run(message_id)
    assert _message(mall, message_id) == ("pending", 1)
    mall.notifier.error = None
    assert await relay.run(message_id) is True
    assert _message(mall, message_id) == ("done", 1)
    assert mall.notifier.templates(customer.email)[-1] == "hello"


async def test_a_command_that_never_succeeds_ends_dead_with_an_incident_and_an_alert(
        mall: Mall) -> None:
    customer = await mall.customer()
    await mall.run_outbox()
    mall.notifier.error = ProviderUnavailable("smtp down")
    [message_id] = await mall.queued(SendNotification("hello", customer_id=customer.id))
    relay = mall.container.outbox()
    for _ in range(MAX_ATTEMPTS - 1):
        with pytest.raises(ProviderUnavailable):
            await relay.run(message_id)
    assert mall.alerts.alerts == []
    assert await relay.run(message_id) is True
    assert _message(mall, message_id) == ("dead", MAX_ATTEMPTS)
    [incident] = mall.db.incidents("job_failed")
    assert incident["detail"] == {"command": "SendNotification",
                                  "error": "ProviderUnavailable"}
    [alert] = mall.alerts.alerts
    assert (alert.severity, alert.source) == ("critical", "SendNotification")
    assert str(MAX_ATTEMPTS) in alert.summary
    assert customer.email not in str(alert)  # no personal data to the operators' channel


async def test_a_give_up_that_fails_too_keeps_the_message_to_be_tried_again(
        mall: Mall) -> None:
    customer = await mall.customer()
    await mall.run_outbox()
    mall.notifier.error = ProviderUnavailable("smtp down")
    mall.alerts.error = ProviderUnavailable("pager down")
    [message_id] = await mall.queued(SendNotification("hello", customer_id=customer.id))
    relay = mall.container.outbox()
    for _ in range(MAX_ATTEMPTS):
        with pytest.raises(ProviderUnavailable):
            await relay.run(message_id)
    assert _message(mall, message_id) == ("pending", MAX_ATTEMPTS)
    assert mall.db.incidents("job_failed") == []


async def test_the_sweep_resends_what_the_broker_lost_and_not_what_a_worker_holds(
        mall: Mall) -> None:
    lost, held = await mall.queued(RaiseAlert("warning", "t", "lost"),
                               RaiseAlert("warning", "t", "held"))
    async with mall.container.uow()() as unit:
        assert await unit.messages.outbox.claim(held, lease_seconds=600) is not None
        await unit.commit()
    relay = mall.container.outbox()
    assert await relay.sweep(older_than_seconds=30) == 0  # too recent to call lost
    mall.clock.advance(seconds=31)
    assert await relay.sweep(older_than_seconds=30) == 1
    assert mall.queue.outbox == [lost]
    mall.clock.advance(seconds=600)  # the worker holding it died: its lease ran out
    mall.queue.outbox.clear()
    assert await relay.sweep(older_than_seconds=30) == 2
    assert sorted(mall.queue.outbox) == sorted([lost, held])


async def test_analytics_events_keep_one_id_across_retries(mall: Mall) -> None:
    [message_id] = await mall.queued(TrackEvent("cus_1", "Order Placed",
                                                  {"order_ref": "ord_1"}))
    relay = mall.container.outbox()
    assert await relay.run(message_id)
    [event] = mall.analytics.events
    assert event.message_id == message_id  # the sink dedupes on it
    assert event.anonymous_id != "cus_1" and event.properties["order_ref"] != "ord_1"


async def test_a_notification_for_an_erased_customer_is_dropped_quietly(mall: Mall) -> None:
    [message_id] = await mall.queued(SendNotification("hello", customer_id="cus_gone"))
    assert await mall.container.outbox().run(message_id) is True
    assert mall.notifier.sent == []
    assert _message(mall, message_id) == ("done", 0)


async def test_a_seller_notification_goes_to_the_seller_and_is_logged(mall: Mall) -> None:
    [message_id] = await mall.queued(SendNotification(
        "delivery_exception_seller", {"order_id": "ord_1"}, audience="seller",
        seller_id="seller-a"))
    await mall.container.outbox().run(message_id)
    [sent] = mall.notifier.sent
    assert sent.recipient == "seller:seller-a"
    [logged] = mall.db.rows("notifications")
    assert (logged["customer_id"], logged["subject"]) == ("seller:seller-a", "ord_1")


async def test_a_stored_command_nobody_can_read_is_set_aside_after_its_retries(
        mall: Mall) -> None:
    async with mall.container.uow()() as unit:
        message_id = await unit.messages.outbox.add("NoSuchCommand", {"x": 1})
        await unit.commit()
    relay = mall.container.outbox()
    for _ in range(MAX_ATTEMPTS - 1):
        with pytest.raises(ValueError, match="NoSuchCommand"):
            await relay.run(message_id)
    assert await relay.run(message_id) is True  # the last attempt sets it aside
    assert _message(mall, message_id) == ("dead", MAX_ATTEMPTS)
    assert [a.source for a in mall.alerts.alerts] == ["NoSuchCommand"]


async def _paying(mall: Mall) -> tuple[Order, str]:
    """An order being paid: its authorization waiting in the outbox, not run yet."""
    customer = await mall.customer()
    order = await mall.place(customer)
    await mall.run_outbox()
    await mall.pay(customer, order)
    [authorize] = mall.queue.outbox
    mall.queue.outbox.clear()
    return order, authorize


async def test_what_a_handler_commits_runs_next_in_the_same_worker(mall: Mall) -> None:
    order, authorize = await _paying(mall)

    assert await mall.container.outbox().run(authorize) is True

    # Paid, notified and shipped by the one run: nothing went through the broker.
    assert mall.queue.outbox == []
    assert (await mall.order(order.id)).status.value == "paid"
    assert await mall.shipments_of(order.id)
    assert {m.status for m in mall.db.outbox()} == {"done"}


async def test_a_follow_up_that_fails_is_handed_back_with_a_wait(mall: Mall) -> None:
    _, authorize = await _paying(mall)
    mall.notifier.error = ProviderUnavailable("smtp down")

    assert await mall.container.outbox().run(authorize) is True  # its own work is done

    failed = [m for m in mall.db.outbox() if m.status != "done"]
    assert [(m.topic, m.status, m.attempts) for m in failed] == [
        ("SendNotification", "pending", 1)] * len(failed) and failed
    assert sorted(mall.queue.outbox) == sorted(m.id for m in failed)
    assert all(mall.queue.waits[m.id] == 1.0 for m in failed)
    mall.notifier.error = None
    await mall.run_outbox()
    assert {m.status for m in mall.db.outbox()} == {"done"}


async def test_a_follow_up_whose_hold_ran_out_is_left_to_another_worker(mall: Mall) -> None:
    _, authorize = await _paying(mall)
    lease = float(mall.container.config.outbox_lease_seconds())
    now = [0.0]
    relay = OutboxRelay(mall.container.uow(), mall.queue, mall.container.bus(), mall.alerts,
                        MAX_ATTEMPTS, lease, monotonic=lambda: now[0])
    handle = mall.container.bus().handle

    async def slow(command: Any, *, message_id: str = "") -> None:
        await handle(command, message_id=message_id)
        now[0] += lease  # as if this handler went on for a lease after its commit

    relay._bus = cast(Any, SimpleNamespace(handle=slow))
    before = {m.id for m in mall.db.outbox()}

    assert await relay.run(authorize) is True

    held = [m for m in mall.db.outbox() if m.id not in before]
    assert held and {m.status for m in held} == {"processing"}  # not run here
    assert sorted(mall.queue.outbox) == sorted(m.id for m in held)
    assert {mall.queue.waits[m.id] for m in held} == {lease}  # taken once the lease ends
