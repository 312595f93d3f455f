"""Reading and verifying the evidence ledger (audits, disputes)."""

from __future__ import annotations

from typing import Any

from application.ports import UnitOfWorkFactory
from domain.evidence import ChainReport, verify_chain


class EvidenceService:
    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def of_subject(self, subject: str, limit: int = 500) -> list[dict[str, Any]]:
        async with self._uow() as uow:
            records = await uow.evidence.of_subject(subject, limit)
        return [record.as_dict() for record in records]

    async def verify(self) -> ChainReport:
        async with self._uow() as uow:
            records = await uow.evidence.chain()
        return verify_chain(records)
