"""Reading and verifying the evidence ledger (audits, disputes)."""

from __future__ import annotations

from typing import Any

from application.ports import UnitOfWorkFactory
from domain.evidence import ChainReport, ChainVerifier


class EvidenceService:
    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def of_subject(self, subject: str, limit: int = 500) -> list[dict[str, Any]]:
        async with self._uow() as uow:
            records = await uow.evidence.of_subject(subject, limit)
        return [record.as_dict() for record in records]

    async def verify(self, page: int = 1000) -> ChainReport:
        """Verify the whole chain, a page at a time."""
        verifier, after = ChainVerifier(), 0
        while True:
            async with self._uow() as uow:
                records = await uow.evidence.chain(after, page)
            for record in records:
                if not verifier.check(record):
                    return verifier.report
            if len(records) < page:
                return verifier.report
            after = records[-1].seq
