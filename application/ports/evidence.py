"""Keeping evidence outside a unit of work, and its signed checkpoints outside the
database."""

from __future__ import annotations

from typing import Protocol

from domain.evidence import Checkpoint, EvidenceDraft


class EvidenceLedger(Protocol):
    """Appends evidence in a transaction of its own (for exchanges outside a unit of work)."""

    async def record(self, draft: EvidenceDraft) -> None: ...


class CheckpointStore(Protocol):
    """Signed checkpoints of the evidence ledger, kept where whoever can write the database
    cannot rewrite them (an append-only file, write-once storage, a log service)."""

    async def append(self, checkpoint: Checkpoint) -> None:
        """Keep one more checkpoint; those kept before are never changed or removed."""
        ...

    async def read(self) -> list[str]:
        """Every checkpoint kept, oldest first, as written (`Checkpoint.to_line`); empty when
        none was written yet. Raises OSError when the store cannot be read."""
        ...
