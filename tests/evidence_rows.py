"""Evidence written as appends wrote it before they waited unsealed: sealed at once onto the
head, which moves in the same transaction. For databases of an older schema (where seq, prev_hash
and hash cannot be null) and for records that must predate the sealer."""

from __future__ import annotations

from datetime import UTC, datetime

from adapters.persistence.repositories._rows import _dump, _storable
from adapters.persistence.tables import EvidenceHead, EvidenceRecord
from domain.evidence import EvidenceDraft, LedgerHead, PendingEvidence


async def append_sealed(draft: EvidenceDraft, received_at: datetime | None = None) -> None:
    context, payload, payload_hash = draft.redacted()
    entry = PendingEvidence(draft.source, draft.kind, draft.subject,
                            received_at or datetime.now(UTC), _storable(context), payload_hash,
                            _storable(payload), id=0)
    [head] = await EvidenceHead.raw(
        "UPDATE evidence_head SET seq = seq + 1 WHERE id = 1 RETURNING seq, head_hash")
    record = entry.sealed_after(LedgerHead(head["seq"] - 1, head["head_hash"]))
    await EvidenceRecord.insert(EvidenceRecord(
        seq=record.seq, source=record.source, kind=record.kind, subject=record.subject,
        received_at=record.received_at.isoformat(), context=_dump(record.context),
        payload_hash=record.payload_hash, payload=_dump(record.payload),
        prev_hash=record.prev_hash, hash=record.hash))
    await EvidenceHead.update({EvidenceHead.head_hash: record.hash}).where(EvidenceHead.id == 1)
