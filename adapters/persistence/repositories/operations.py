"""Long-running operations and their results."""

from __future__ import annotations

from typing import Any

from adapters.persistence import raw
from adapters.persistence import tables as t
from adapters.persistence.repositories._rows import _at, _dump, _load
from adapters.persistence.repositories.read_ahead import ReadAhead
from application.ports.runtime import settled
from domain.operations import Operation, OperationStatus

SAVE = raw.update_of("operation", ("status", "message", "result", "updated_at"))


class OperationRepository:
    def __init__(self, changed: list[str] | None = None,
                 read_ahead: ReadAhead | None = None) -> None:
        self._read_ahead = ReadAhead() if read_ahead is None else read_ahead
        # Ids saved in this unit of work, announced when it commits (adapters/operation_watch).
        self._changed = [] if changed is None else changed

    @staticmethod
    def _from(row: dict[str, Any] | None) -> Operation | None:
        if row is None:
            return None
        return Operation(
            id=row["id"], customer_id=row["customer_id"], kind=row["kind"],
            subject=row["subject"], created_at=_at(row["created_at"]),
            status=OperationStatus(row["status"]), message=row["message"],
            result=_load(row["result"]), updated_at=_at(row["updated_at"]),
        )

    async def add(self, operation: Operation) -> None:
        self._read_ahead.operations.pop(operation.subject, None)  # knew none
        row: dict[str, Any] = {
            "id": operation.id, "customer_id": operation.customer_id, "kind": operation.kind,
            "subject": operation.subject, "status": operation.status.value,
            "message": operation.message,
            "result": _dump(operation.result) if operation.result is not None else None,
            "created_at": operation.created_at, "updated_at": operation.updated_at,
        }
        if raw.on_postgres():  # sent with the transaction's next statement
            await raw.write(raw.insert_into("operation", tuple(row)), *row.values(),
                            row=f"operation:{operation.id}")
            return
        await raw.later(t.Operation.insert(t.Operation(**row)))

    async def get(self, operation_id: str) -> Operation | None:
        ahead = self._read_ahead.operation_by_id(operation_id)
        if ahead is not None:
            return self._from(ahead)
        return self._from(
            await t.Operation.select().where(t.Operation.id == operation_id).first())

    async def by_subject(self, subject: str) -> Operation | None:
        if subject in self._read_ahead.operations:
            return self._from(self._read_ahead.operations.pop(subject))
        return self._from(
            await t.Operation.select().where(t.Operation.subject == subject).first())

    async def save(self, operation: Operation) -> None:
        self._read_ahead.operations.pop(operation.subject, None)  # older than this
        self._changed.append(operation.id)
        if operation.is_final or operation.result is not None:
            self._changed.append(settled(operation.id))
        if raw.on_postgres():
            await raw.write(SAVE, operation.status.value, operation.message, (
                _dump(operation.result) if operation.result is not None else None),
                operation.updated_at, operation.id, row=f"operation:{operation.id}")
            return
        await raw.later(t.Operation.update({
            t.Operation.status: operation.status.value,
            t.Operation.message: operation.message,
            t.Operation.result: (
                _dump(operation.result) if operation.result is not None else None),
            t.Operation.updated_at: operation.updated_at,
        }).where(t.Operation.id == operation.id))
