"""What every use case does around its transaction: new ids, commands sent through the
outbox with the change, commit then hand the new work to the workers, incidents."""

from __future__ import annotations

from typing import Any

from application.ports import TaskQueue, UnitOfWork
from domain.commands import Command, RaiseAlert, serialize
from domain.redaction import card_safe_id


def new_id(prefix: str) -> str:
    return card_safe_id(prefix)


async def commit_and_dispatch(uow: UnitOfWork, queue: TaskQueue) -> None:
    """Commit, then hand the new outbox rows to the workers (a lost hand-off is swept later)."""
    await uow.commit()
    if uow.new_outbox_ids:
        queue.dispatch_outbox(list(uow.new_outbox_ids))
        uow.new_outbox_ids.clear()


async def send(uow: UnitOfWork, command: Command) -> str:
    """Have `command` done once this transaction commits: it is written to the outbox with
    the change that asks for it, and the relay hands it to the bus."""
    return await uow.outbox.add(*serialize(command))


async def open_incident(uow: UnitOfWork, kind: str, subject: str, detail: dict[str, Any], *,
                        severity: str, source: str, summary: str) -> str:
    """An incident for a human, and the alert that tells the operators about it."""
    incident_id = await uow.incidents.open(kind, subject, detail)
    await send(uow, RaiseAlert(severity, source, summary,
                               {"incident_id": incident_id, **detail}))
    return incident_id
