"""The evidence ledger: an append-only, hash-chained record."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from adapters.persistence import tables as t
from adapters.persistence.repositories._rows import _dump, _storable
from application.ports import Clock
from domain.evidence import EvidenceDraft, EvidenceRecord, LedgerHead, seal


class EvidenceRepository:
    def __init__(self, clock: Clock) -> None:
        self._clock = clock

    async def append(self, draft: EvidenceDraft) -> EvidenceRecord:
        context, payload, payload_hash = draft.redacted()
        # Sealed as stored: what a verifier reads back must hash the same.
        context, payload = _storable(context), _storable(payload)
        received_at = self._clock.now()
        # Bumping the head row locks it until commit, so appends form one unbroken chain.
        head = await t.EvidenceHead.raw(
            "UPDATE evidence_head SET seq = seq + 1 WHERE id = 1 RETURNING seq, head_hash"
        )
        seq, prev_hash = head[0]["seq"], head[0]["head_hash"]
        digest = seal(seq=seq, source=draft.source, kind=draft.kind, subject=draft.subject,
                      received_at=received_at, context=context, payload_hash=payload_hash,
                      payload=payload, prev_hash=prev_hash)
        await t.EvidenceRecord.insert(t.EvidenceRecord(
            seq=seq, source=draft.source, kind=draft.kind, subject=draft.subject,
            received_at=received_at.isoformat(), context=_dump(context),
            payload_hash=payload_hash, payload=_dump(payload), prev_hash=prev_hash, hash=digest,
        ))
        await t.EvidenceHead.update({t.EvidenceHead.head_hash: digest}).where(
            t.EvidenceHead.id == 1)
        return EvidenceRecord(seq, draft.source, draft.kind, draft.subject, received_at,
                              context, payload_hash, payload, prev_hash, digest)

    @staticmethod
    def _from(row: dict[str, Any]) -> EvidenceRecord:
        return EvidenceRecord(
            seq=row["seq"], source=row["source"], kind=row["kind"], subject=row["subject"],
            received_at=datetime.fromisoformat(row["received_at"]),
            context=json.loads(row["context"]), payload_hash=row["payload_hash"],
            payload=json.loads(row["payload"]), prev_hash=row["prev_hash"], hash=row["hash"],
        )

    async def of_subject(self, subject: str, limit: int) -> list[EvidenceRecord]:
        e = t.EvidenceRecord
        rows = await e.select().where(e.subject == subject).order_by(e.seq).limit(limit)
        return [self._from(row) for row in rows]

    async def chain(self, after_seq: int, limit: int) -> list[EvidenceRecord]:
        e = t.EvidenceRecord
        rows = await e.select().where(e.seq > after_seq).order_by(e.seq).limit(limit)
        return [self._from(row) for row in rows]

    async def head(self) -> LedgerHead:
        h = t.EvidenceHead
        row = await h.select(h.seq, h.head_hash).where(h.id == 1).first()
        if row is None:  # migrate() inserts it; a missing row is itself tampering
            return LedgerHead(0, "")
        return LedgerHead(row["seq"], row["head_hash"])
