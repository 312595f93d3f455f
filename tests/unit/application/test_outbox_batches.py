"""Outbox messages are claimed in batches and end in the transaction that commits their
handler's result, so a result is never kept without its message's end (or the other way)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import pytest

from application import bus as message_bus
from application.outbox import OutboxRelay
from application.ports import UnitOfWorkFactory
from application.transactions import commit_result
from domain.commands import Command, RaiseAlert
from domain.errors import ProviderUnavailable
from tests.unit.application.harness import Mall


@dataclass(frozen=True)
class RecordNote(Command):
    """A command of these tests only: its handler writes an incident as its result."""

    subject: str
    crash_after: str = ""  # "result" or "step": stop the worker dead after that commit


class WorkerKilled(BaseException):
    """Stands for a process that dies: nothing after it runs, not even the relay's handling."""


async def record_note(command: RecordNote, uow: UnitOfWorkFactory) -> None:
    async with uow() as unit:
        await unit.incidents.open("note", command.subject, {"step": "before the call"})
        await unit.commit()  # a step before a partner's call: the message stays open
    if command.crash_after == "step":
        raise WorkerKilled
    async with uow() as unit:
        await unit.incidents.open("note", command.subject, {"step": "result"})
        await commit_result(unit)
    if command.crash_after == "result":
        raise WorkerKilled


Handlers = dict[type[Command], Callable[..., Awaitable[None]]]


@pytest.fixture
def relay(mall: Mall, monkeypatch: pytest.MonkeyPatch) -> OutboxRelay:
    """The container's relay, with a bus that knows RecordNote too."""
    handlers: Handlers = {**message_bus.COMMAND_HANDLERS, RecordNote: record_note}
    monkeypatch.setattr(message_bus, "COMMAND_HANDLERS", handlers)
    mall.container.bus.reset()
    mall.container.outbox.reset()
    return mall.container.outbox()


def _status(mall: Mall, message_id: str) -> str:
    [status] = [m.status for m in mall.db.outbox() if m.id == message_id]
    return status


def _notes(mall: Mall, subject: str) -> list[str]:
    return [i["detail"]["step"] for i in mall.db.incidents("note") if i["subject"] == subject]


async def test_the_message_ends_in_the_commit_of_its_result(mall: Mall,
                                                            relay: OutboxRelay) -> None:
    [message_id] = await mall.queued(RecordNote("a"))
    commits = mall.db.commits
    assert await relay.run(message_id) is True
    assert _status(mall, message_id) == "done"
    assert _notes(mall, "a") == ["before the call", "result"]
    # claim, the step, the result: no transaction of its own to end the message
    assert mall.db.commits - commits == 3


@pytest.mark.parametrize(("dies_after", "left", "swept"), [
    ("result", "done", []),  # nothing is done twice
    ("step", "processing", ["the message"]),  # the result never came: the sweep resends it
])
async def test_a_worker_that_dies_leaves_the_message_as_its_result_stands(
        mall: Mall, relay: OutboxRelay, dies_after: str, left: str, swept: list[str]) -> None:
    [message_id] = await mall.queued(RecordNote("b", crash_after=dies_after))
    with pytest.raises(WorkerKilled):
        await relay.run(message_id)
    assert _status(mall, message_id) == left
    mall.clock.advance(hours=1)  # any lease has run out
    await relay.sweep(older_than_seconds=30)
    assert mall.queue.outbox == [message_id for _ in swept]


async def test_a_batch_is_claimed_at_once_and_skips_what_is_done_or_held(
        mall: Mall, relay: OutboxRelay) -> None:
    done, held, fresh, other = await mall.queued(
        RaiseAlert("warning", "t", "done"), RaiseAlert("warning", "t", "held"),
        RaiseAlert("warning", "t", "fresh"), RecordNote("d"))
    assert await relay.run(done) is True
    async with mall.container.uow()() as unit:
        assert await unit.messages.outbox.claim(held, lease_seconds=600) is not None
        await unit.commit()
    commits = mall.db.commits
    assert await relay.run_batch([done, held, fresh, other]) == 2
    assert [_status(mall, m) for m in (done, held, fresh, other)] == [
        "done", "processing", "done", "done"]
    assert [a.summary for a in mall.alerts.alerts] == ["done", "fresh"]
    # one claim for the batch, the alert's end, the note's step and result
    assert mall.db.commits - commits == 4


async def test_one_failure_in_a_batch_does_not_hold_back_the_others(
        mall: Mall, relay: OutboxRelay) -> None:
    mall.alerts.error = ProviderUnavailable("pager down")
    failing, note = await mall.queued(RaiseAlert("warning", "t", "x"), RecordNote("e"))
    with pytest.raises(ProviderUnavailable):
        await relay.run_batch([failing, note])
    assert _status(mall, failing) == "pending" and _status(mall, note) == "done"
    mall.alerts.error = None
    assert await relay.run_batch([failing, note]) == 1  # the retry finds what is left
    assert _status(mall, failing) == "done"


async def test_handlers_that_commit_nothing_are_ended_together(mall: Mall,
                                                               relay: OutboxRelay) -> None:
    ids = await mall.queued(*(RaiseAlert("warning", "t", f"a{n}") for n in range(20)))
    commits = mall.db.commits
    assert await relay.run_batch(ids) == 20
    assert {_status(mall, message_id) for message_id in ids} == {"done"}
    assert mall.db.commits - commits == 2  # the claim, and one end for all twenty
