"""What every use case does around its transaction: new ids, commands sent through the
outbox with the change, commit then hand the new work to the workers, incidents."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from application.ports import OutboxMessage, TaskQueue, UnitOfWork
from domain.commands import Command, RaiseAlert, serialize
from domain.redaction import card_safe_id


def new_id(prefix: str) -> str:
    return card_safe_id(prefix)


HELD_AT_MOST = 20  # messages a handler's commits keep for its own worker; the rest go to any


@dataclass
class MessageInHand:
    """The outbox message a handler is performing, completed with the handler's result; and,
    when its worker runs what the handler sends (`hold_seconds`, the lease of a claim), the
    messages committed for it to run next."""

    message_id: str
    completed: bool = False
    hold_seconds: float | None = None
    follow_ups: list[OutboxMessage] = field(default_factory=list)
    monotonic: Callable[[], float] = time.monotonic
    held_since: float | None = None  # when the first follow-up's claim began (before commit)
    # A task the handler starts inherits the variable, not the worker's loop over messages.
    owner: asyncio.Task[Any] | None = field(default_factory=asyncio.current_task)


_in_hand: ContextVar[MessageInHand | None] = ContextVar("message_in_hand", default=None)


@contextmanager
def performing(message_id: str, hold_seconds: float | None = None,
               monotonic: Callable[[], float] = time.monotonic) -> Iterator[MessageInHand]:
    """While a handler performs `message_id`, the first transaction that commits its result
    (`commit_result`, `commit_and_dispatch`) marks the message done in the same commit: the
    result and the message's end are recorded together or not at all. With `hold_seconds`,
    the messages `commit_and_dispatch` commits are claimed in that commit for the worker
    performing this one (`follow_ups`), instead of handed to the broker."""
    in_hand = MessageInHand(message_id, hold_seconds=hold_seconds, monotonic=monotonic)
    token = _in_hand.set(in_hand)
    try:
        yield in_hand
    finally:
        _in_hand.reset(token)


async def commit_result(uow: UnitOfWork) -> None:
    """Commit what a handler did; the outbox message it performs, if any, ends in the same
    commit. A step before a partner's call commits with `uow.commit()` instead, so the message
    stays open until the result is in."""
    in_hand = _in_hand.get()
    if in_hand is not None and not in_hand.completed:
        await uow.messages.outbox.complete(in_hand.message_id)
    await uow.commit()
    if in_hand is not None:
        in_hand.completed = True


async def commit_and_dispatch(uow: UnitOfWork, queue: TaskQueue) -> None:
    """`commit_result`, then hand the new outbox rows to the workers (a lost hand-off is
    swept later); in a worker that runs what its handlers send, the first few are held for
    it instead, in the same commit, and need neither the broker nor a claim."""
    in_hand = _in_hand.get()
    held: list[OutboxMessage] = []
    room = HELD_AT_MOST - len(in_hand.follow_ups) if in_hand is not None else 0
    if (in_hand is not None and in_hand.hold_seconds is not None and uow.new_outbox_ids
            and room > 0 and in_hand.owner is asyncio.current_task()):
        if in_hand.held_since is None:
            in_hand.held_since = in_hand.monotonic()
        held = await uow.messages.outbox.hold(uow.new_outbox_ids[:room], in_hand.hold_seconds)
    await commit_result(uow)
    if held:
        assert in_hand is not None
        in_hand.follow_ups.extend(held)
    rest = uow.new_outbox_ids[len(held):]
    if rest:
        queue.dispatch_outbox(list(rest))
    uow.new_outbox_ids.clear()


async def send(uow: UnitOfWork, command: Command) -> str:
    """Have `command` done once this transaction commits: it is written to the outbox with
    the change that asks for it, and the relay hands it to the bus."""
    return await uow.messages.outbox.add(*serialize(command))


async def open_incident(uow: UnitOfWork, kind: str, subject: str, detail: dict[str, Any], *,
                        severity: str, source: str, summary: str) -> str:
    """An incident for a human, and the alert that tells the operators about it."""
    incident_id = await uow.incidents.open(kind, subject, detail)
    await uow.incidents.alerted(incident_id, severity, source, summary)
    await send(uow, RaiseAlert(severity, source, summary,
                               {"incident_id": incident_id, "kind": kind, **detail}))
    return incident_id
