"""Long-running operations the customer can poll or stream while a provider works."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


class OperationStatus(StrEnum):
    PENDING = "pending"
    PROCESSING = "processing"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


STILL_PROCESSING = (
    "Still processing: the provider is taking longer than usual. Nothing is lost and you "
    "will not be charged twice; this page updates until it succeeds or fails."
)


@dataclass
class Operation:
    id: str
    customer_id: str
    kind: str
    subject: str
    created_at: datetime
    status: OperationStatus = OperationStatus.PENDING
    message: str = "Received; waiting for the provider."
    result: dict[str, Any] | None = None
    updated_at: datetime | None = None
    messages: list[str] = field(default_factory=list)

    @property
    def is_final(self) -> bool:
        return self.status in (OperationStatus.SUCCEEDED, OperationStatus.FAILED)

    def progress(self, message: str, now: datetime) -> None:
        if self.is_final:
            return
        self.status = OperationStatus.PROCESSING
        self.message = message
        self.updated_at = now

    def finish(
        self, *, succeeded: bool, message: str, result: dict[str, Any], now: datetime
    ) -> bool:
        if self.is_final:
            return False
        self.status = OperationStatus.SUCCEEDED if succeeded else OperationStatus.FAILED
        self.message = message
        self.result = result
        self.updated_at = now
        return True

    def view(self, now: datetime, slow_after_seconds: float) -> dict[str, Any]:
        """What the customer sees; past the slow threshold an unfinished one says so."""
        message = self.message
        elapsed = (now - self.created_at).total_seconds()
        slow = not self.is_final and elapsed >= slow_after_seconds
        if slow:
            message = STILL_PROCESSING
        return {
            "id": self.id,
            "kind": self.kind,
            "subject": self.subject,
            "status": self.status.value,
            "message": message,
            "still_processing": slow,
            "elapsed_seconds": round(elapsed, 1),
            "result": self.result,
        }
