"""The evidence ledger's records: append-only, hash-chained, with provenance.

Each record's hash covers its own content and the hash of the record before it, so changing,
removing or reordering any stored record breaks verification from that point on.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from domain.redaction import redact

GENESIS = "0" * 64


def payload_digest(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()


@dataclass(frozen=True)
class EvidenceDraft:
    """What a use case or adapter wants to record; the ledger seals it."""

    source: str  # who said it: "sandbox-payments", "storefront", ...
    kind: str  # what it was: "webhook.received", "http.exchange", "payment.transition", ...
    subject: str  # what it is about: "order:<id>"
    context: dict[str, Any]
    payload: Any
    raw: bytes | None = None

    def redacted(self) -> tuple[dict[str, Any], Any, str]:
        raw = self.raw if self.raw is not None else canonical(self.payload)
        return redact(self.context), redact(self.payload), payload_digest(raw)


@dataclass(frozen=True)
class EvidenceRecord:
    seq: int
    source: str
    kind: str
    subject: str
    received_at: datetime
    context: dict[str, Any]
    payload_hash: str
    payload: Any
    prev_hash: str
    hash: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "source": self.source,
            "kind": self.kind,
            "subject": self.subject,
            "received_at": self.received_at.isoformat(),
            "context": self.context,
            "payload_hash": self.payload_hash,
            "payload": self.payload,
            "prev_hash": self.prev_hash,
            "hash": self.hash,
        }


def canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str).encode()


def seal(
    *, seq: int, source: str, kind: str, subject: str, received_at: datetime,
    context: dict[str, Any], payload_hash: str, payload: Any, prev_hash: str,
) -> str:
    body = {
        "seq": seq, "source": source, "kind": kind, "subject": subject,
        "received_at": received_at.isoformat(), "context": context,
        "payload_hash": payload_hash, "payload": payload, "prev_hash": prev_hash,
    }
    return hashlib.sha256(canonical(body)).hexdigest()


@dataclass(frozen=True)
class ChainReport:
    ok: bool
    checked: int
    first_bad_seq: int | None = None
    reason: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "checked": self.checked, "first_bad_seq": self.first_bad_seq,
                "reason": self.reason}


class ChainVerifier:
    """Checks records one at a time, in sequence order, so a long chain can be verified in
    pages without holding it in memory."""

    def __init__(self) -> None:
        self._prev_hash, self._expected_seq, self._checked = GENESIS, 1, 0
        self._failure: ChainReport | None = None

    def check(self, record: EvidenceRecord) -> bool:
        """Check the next record; False (and a report) at the first one that does not fit."""
        if self._failure is not None:
            return False
        reason = None
        if record.seq != self._expected_seq:
            reason = (f"expected record {self._expected_seq}, found {record.seq}: a record "
                      "was removed or inserted")
        elif record.prev_hash != self._prev_hash:
            reason = "link to the previous record is broken"
        elif seal(
            seq=record.seq, source=record.source, kind=record.kind, subject=record.subject,
            received_at=record.received_at, context=record.context,
            payload_hash=record.payload_hash, payload=record.payload, prev_hash=record.prev_hash,
        ) != record.hash:
            reason = "content does not match its hash: the record was altered"
        if reason is not None:
            self._failure = ChainReport(False, self._checked, record.seq, reason)
            return False
        self._prev_hash, self._expected_seq = record.hash, self._expected_seq + 1
        self._checked += 1
        return True

    @property
    def report(self) -> ChainReport:
        return self._failure or ChainReport(True, self._checked)


def verify_chain(records: Iterable[EvidenceRecord]) -> ChainReport:
    """Walk the chain in sequence order and report the first record that does not fit."""
    verifier = ChainVerifier()
    for record in records:
        if not verifier.check(record):
            break
    return verifier.report
