"""The evidence ledger: an append-only, hash-chained record.

An append is one INSERT of a record with no seq, prev_hash or hash: no append waits for
another. Sealing takes the head (locked until commit), chains the oldest pending records onto
it, fills in their seq, prev_hash and hash in one UPDATE and moves the head once: one
transaction per batch.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from adapters.persistence import raw
from adapters.persistence import tables as t
from adapters.persistence.repositories._rows import _dump, _storable
from application.ports import Clock
from domain.evidence import (
    EvidenceContent,
    EvidenceDraft,
    EvidenceRecord,
    LedgerHead,
    PendingEvidence,
    chain_onto,
)

SEAL_BATCH = 500  # pending rows sealed at once when a caller needs its own record sealed
# Every record of a batch sealed in one statement (PostgreSQL and SQLite 3.33+ alike).
SEAL_ROWS = (
    "WITH sealed (id, seq, prev_hash, hash) AS (VALUES {}) "
    "UPDATE evidence_record SET seq = sealed.seq, prev_hash = sealed.prev_hash, "
    "hash = sealed.hash FROM sealed WHERE evidence_record.id = sealed.id "
    "AND evidence_record.seq IS NULL"
)

# PostgreSQL: the same, and the head moved, in one statement.
SEAL_ROWS_AND_HEAD = (
    "WITH sealed (id, seq, prev_hash, hash) AS (VALUES {}), chained AS ("
    "UPDATE evidence_record SET seq = sealed.seq, prev_hash = sealed.prev_hash, "
    "hash = sealed.hash FROM sealed WHERE evidence_record.id = sealed.id "
    "AND evidence_record.seq IS NULL RETURNING 1) "
    "UPDATE evidence_head SET seq = {{}}, head_hash = {{}} WHERE id = 1"
)

ARRIVAL = t.EvidenceRecord._meta.primary_key  # its serial `id`: the order appends came in
APPEND_COLUMNS = ("source", "kind", "subject", "received_at", "context", "payload_hash",
                  "payload")
APPEND = ("INSERT INTO evidence_record (source, kind, subject, received_at, context, "
          "payload_hash, payload, seq, prev_hash, hash) "
          "VALUES ($1, $2, $3, $4, $5, $6, $7, NULL, NULL, NULL) RETURNING id")


def append_each(source: str, first: int) -> str:
    """APPEND once for each row of `source`, a CTE of the same statement, with the values of
    APPEND_COLUMNS from placeholder `first` on: the evidence of a write made with it, and
    only if that write was."""
    values = ", ".join(f"${first + i}" for i in range(len(APPEND_COLUMNS)))
    return (f"INSERT INTO evidence_record ({', '.join(APPEND_COLUMNS)}, seq, prev_hash, "  # noqa: S608
            f"hash) SELECT {values}, NULL, NULL, NULL FROM {source}")


def appended(draft: EvidenceDraft, now: datetime) -> tuple[PendingEvidence, tuple[Any, ...]]:
    """The record of `draft` as an append stores it (id 0 until stored), and the values of
    APPEND_COLUMNS that store it."""
    context, payload, payload_hash = draft.redacted()
    # Kept as stored: the sealer reads it back, and the hash covers what it reads.
    context, payload = _storable(context), _storable(payload)
    pending = PendingEvidence(draft.source, draft.kind, draft.subject, now, context,
                              payload_hash, payload, id=0)
    return pending, (draft.source, draft.kind, draft.subject, now.isoformat(), _dump(context),
                     payload_hash, _dump(payload))


class EvidenceRepository:
    def __init__(self, clock: Clock) -> None:
        self._clock = clock

    async def append(self, draft: EvidenceDraft) -> PendingEvidence:
        pending, values = appended(draft, self._clock.now())

        def sent(record_id: int) -> None:
            object.__setattr__(pending, "id", record_id)

        # Sent with the transaction's next statement or its commit: until then the record
        # has no id, and is handed out with 0, given its id once sent.
        if raw.on_postgres():
            await raw.write(APPEND, *values, then=sent)
        else:
            await raw.later(t.EvidenceRecord.insert(t.EvidenceRecord(
                **dict(zip(APPEND_COLUMNS, values, strict=True)))), then=sent)
        return pending

    async def seal(self, limit: int) -> list[EvidenceRecord]:
        return [record for _, record in await self._seal_batch(limit)]

    async def sealed(self, pending: list[PendingEvidence]) -> list[EvidenceRecord]:
        await raw.flush()  # appends of this transaction not sent yet get their ids
        ids = [entry.id for entry in pending]
        last = max(ids)
        while True:  # batches go in id order: past `last`, every one of them is sealed
            batch = await self._seal_batch(SEAL_BATCH)
            if len(batch) < SEAL_BATCH or batch[-1][0] >= last:
                break
        e = t.EvidenceRecord
        rows = await e.select().where(ARRIVAL.is_in(ids) & e.seq.is_not_null()).order_by(e.seq)
        if len(rows) < len(ids):
            raise LookupError(f"pending evidence {sorted(ids)} could not all be sealed")
        return [self._from(row) for row in rows]

    async def _seal_batch(self, limit: int) -> list[tuple[int, EvidenceRecord]]:
        """Chain the oldest `limit` pending records onto the head: (pending id, record)."""
        head = await self._locked_head()
        if head is None:  # migrate() inserts it; verifying reports it missing
            return []
        e = t.EvidenceRecord
        rows = await e.select().where(e.seq.is_null()).order_by(ARRIVAL).limit(limit)
        if not rows:
            return []
        pending = [self._pending(row) for row in rows]
        sealed = chain_onto(head, pending)
        values = ", ".join(["(CAST({} AS BIGINT), CAST({} AS BIGINT), {}, {})"] * len(sealed))
        chain = [value for entry, record in zip(pending, sealed, strict=True)
                 for value in (entry.id, record.seq, record.prev_hash, record.hash)]
        if raw.on_postgres():
            await e.raw(SEAL_ROWS_AND_HEAD.format(values), *chain, sealed[-1].seq,
                        sealed[-1].hash)
        else:  # both sent with the transaction's next statement or its COMMIT
            await raw.later(e.raw(SEAL_ROWS.format(values), *chain))
            await raw.later(t.EvidenceHead.update({t.EvidenceHead.seq: sealed[-1].seq,
                                                   t.EvidenceHead.head_hash: sealed[-1].hash}
                                                  ).where(t.EvidenceHead.id == 1))
        return [(entry.id, record) for entry, record in zip(pending, sealed, strict=True)]

    @staticmethod
    async def _locked_head() -> LedgerHead | None:
        """The head, locked until commit on PostgreSQL (SQLite's IMMEDIATE transaction holds
        the whole database already), so that two sealers never chain onto the same head."""
        h = t.EvidenceHead
        query = h.select(h.seq, h.head_hash).where(h.id == 1)
        if h._meta.db.engine_type == "postgres":
            query = query.lock_rows("UPDATE")
        rows = await query
        return LedgerHead(rows[0]["seq"], rows[0]["head_hash"]) if rows else None

    @staticmethod
    def _content(row: dict[str, Any]) -> EvidenceContent:
        """What a stored record says, as it was sealed or will be."""
        return EvidenceContent(
            row["source"], row["kind"], row["subject"], datetime.fromisoformat(row["received_at"]),
            json.loads(row["context"]), row["payload_hash"], json.loads(row["payload"]))

    @classmethod
    def _pending(cls, row: dict[str, Any]) -> PendingEvidence:
        return PendingEvidence(**cls._content(row).content(), id=row["id"])

    @classmethod
    def _from(cls, row: dict[str, Any]) -> EvidenceRecord:
        return EvidenceRecord(**cls._content(row).content(), seq=row["seq"],
                              prev_hash=row["prev_hash"], hash=row["hash"])

    async def of_subject(self, subject: str,
                         limit: int) -> list[EvidenceRecord | PendingEvidence]:
        e = t.EvidenceRecord
        about = e.subject == subject
        rows = await e.select().where(about & e.seq.is_not_null()).order_by(e.seq).limit(limit)
        entries: list[EvidenceRecord | PendingEvidence] = [self._from(row) for row in rows]
        if len(entries) < limit:
            rows = await e.select().where(about & e.seq.is_null()).order_by(ARRIVAL).limit(
                limit - len(entries))
            entries += [self._pending(row) for row in rows]
        return entries

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
