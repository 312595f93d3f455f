"""The evidence ledger's records: append-only, hash-chained, with provenance.

Each record's hash covers its own content and the hash of the record before it, so changing,
removing or reordering any stored record breaks verification from that point on. The database
also records the head (last sequence number and hash), so records removed from the end are found.
Appending stores a record unsealed, touching nothing shared; a sealer chains the pending ones onto
the head in batches, in the order they were appended, so appends never wait for one another.
Whoever can write the database could still recompute every hash; signed checkpoints over
(sequence, head hash), kept outside the database, make such a rewrite show.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
import re
from collections.abc import Iterable, Mapping
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
class EvidenceContent:
    """What a record of the ledger says, whether sealed yet or not."""

    source: str  # who said it
    kind: str
    subject: str
    received_at: datetime
    context: dict[str, Any]
    payload_hash: str
    payload: Any

    def content(self) -> dict[str, Any]:
        return {"source": self.source, "kind": self.kind, "subject": self.subject,
                "received_at": self.received_at, "context": self.context,
                "payload_hash": self.payload_hash, "payload": self.payload}

    def _listed(self, seq: int | None, prev_hash: str | None,
                digest: str | None) -> dict[str, Any]:
        return {"seq": seq, **self.content(), "received_at": self.received_at.isoformat(),
                "prev_hash": prev_hash, "hash": digest}


@dataclass(frozen=True, kw_only=True)
class EvidenceRecord(EvidenceContent):
    """A sealed record: its place in the chain, the hash of the one before and its own."""

    seq: int
    prev_hash: str
    hash: str

    def as_dict(self) -> dict[str, Any]:
        return self._listed(self.seq, self.prev_hash, self.hash)


@dataclass(frozen=True, kw_only=True)
class PendingEvidence(EvidenceContent):
    """A record appended but not sealed yet, `id` giving the order it was appended in. The
    sealer gives it its place in the chain (seq) and its hash; until then audits list it with
    those null."""

    id: int

    def sealed_after(self, head: LedgerHead) -> EvidenceRecord:
        """This record as the next one of the chain ending at `head`."""
        seq, content = head.seq + 1, self.content()
        digest = seal(seq=seq, **content, prev_hash=head.hash)
        return EvidenceRecord(**content, seq=seq, prev_hash=head.hash, hash=digest)

    def as_dict(self) -> dict[str, Any]:
        return self._listed(None, None, None)


def chain_onto(head: LedgerHead, pending: Iterable[PendingEvidence]) -> list[EvidenceRecord]:
    """Seal `pending`, in the order given, as the records following `head`."""
    sealed: list[EvidenceRecord] = []
    for entry in pending:
        sealed.append(entry.sealed_after(head))
        head = LedgerHead(sealed[-1].seq, sealed[-1].hash)
    return sealed


# What an audit lists: the sealed records, then the pending ones.
LedgerEntry = EvidenceRecord | PendingEvidence


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
class LedgerHead:
    """Where the database says the chain ends: its last sequence number and hash."""

    seq: int
    hash: str


_CHECKPOINT_FIELDS = frozenset({"seq", "head_hash", "signed_at", "key_id", "mac"})
_HEX64 = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class Checkpoint:
    """A signed statement, kept outside the database, that the ledger held `seq` records ending
    in `head_hash`: whoever rewrites the database cannot rewrite what was vouched for."""

    seq: int
    head_hash: str
    signed_at: str  # RFC 3339, UTC
    key_id: str
    mac: str  # HMAC-SHA256 of message(), hex
    line: int = 0  # where the store keeps it (1-based; 0: not stored); not signed

    def message(self) -> bytes:
        return canonical({"ledger": "mall-evidence", "v": 1, "seq": self.seq,
                          "head_hash": self.head_hash, "signed_at": self.signed_at,
                          "key_id": self.key_id})

    def to_line(self) -> str:
        """One JSON object on one line, as the store keeps it."""
        return json.dumps({"seq": self.seq, "head_hash": self.head_hash,
                           "signed_at": self.signed_at, "key_id": self.key_id, "mac": self.mac},
                          separators=(",", ":"))

    def as_dict(self) -> dict[str, Any]:
        return {"line": self.line or None, "seq": self.seq, "head_hash": self.head_hash,
                "signed_at": self.signed_at, "key_id": self.key_id}

    @classmethod
    def parse(cls, text: str, line: int = 0) -> Checkpoint:
        """Read one stored checkpoint; ValueError saying what is wrong with it."""
        try:
            data = json.loads(text)
        except ValueError:
            raise ValueError("it is not JSON") from None
        if not isinstance(data, dict) or set(data) != _CHECKPOINT_FIELDS:
            raise ValueError("it is not a checkpoint (a JSON object with exactly "
                             f"{', '.join(sorted(_CHECKPOINT_FIELDS))})")
        seq = data["seq"]
        if type(seq) is not int or seq < 0:
            raise ValueError("its seq is not a record number")
        for name in ("head_hash", "mac"):
            if not isinstance(data[name], str) or not _HEX64.fullmatch(data[name]):
                raise ValueError(f"its {name} is not 64 lowercase hex digits")
        for name in ("signed_at", "key_id"):
            if not isinstance(data[name], str) or not data[name]:
                raise ValueError(f"its {name} is missing")
        return cls(seq, data["head_hash"], data["signed_at"], data["key_id"], data["mac"], line)


class CheckpointKeys:
    """The key ring of checkpoints (HMAC-SHA256): the current key signs and every key of the
    ring verifies, so after a rotation the old checkpoints still verify while their key is kept."""

    def __init__(self, keys: Mapping[str, bytes], current: str) -> None:
        if current not in keys:
            raise ValueError(f"the current checkpoint key id {current!r} has no key")
        for key_id, key in keys.items():
            if len(key) < 32 or not key_id:
                raise ValueError(f"checkpoint key {key_id!r} must have an id and 32 bytes or more")
        self._keys, self._current = dict(keys), current

    @property
    def current_key_id(self) -> str:
        return self._current

    @staticmethod
    def _mac(checkpoint: Checkpoint, key: bytes) -> str:
        return hmac.new(key, checkpoint.message(), hashlib.sha256).hexdigest()

    def sign(self, head: LedgerHead, signed_at: datetime) -> Checkpoint:
        unsigned = Checkpoint(head.seq, head.hash, signed_at.isoformat(), self._current, "")
        return dataclasses.replace(unsigned, mac=self._mac(unsigned, self._keys[self._current]))

    def problem(self, checkpoint: Checkpoint) -> str | None:
        """None when the checkpoint was signed by a key of the ring; else why it cannot be
        trusted."""
        key = self._keys.get(checkpoint.key_id)
        if key is None:
            return (f"it is signed with key {checkpoint.key_id!r}, which is not in the checkpoint "
                    "key ring (keep retired keys there to verify old checkpoints)")
        if not hmac.compare_digest(self._mac(checkpoint, key), checkpoint.mac):
            return "its signature does not match: the checkpoint was forged or altered"
        return None


@dataclass(frozen=True)
class RejectedCheckpoint:
    line: int
    reason: str
    checkpoint: Checkpoint | None = None  # when the line could be read at all


@dataclass(frozen=True)
class CheckpointLog:
    """The stored checkpoints, split into those a key of the ring signed and the others."""

    valid: list[Checkpoint]
    rejected: list[RejectedCheckpoint]

    def newest_up_to(self, seq: int) -> Checkpoint | None:
        """The checkpoint of the highest record not past `seq`."""
        return max((c for c in self.valid if c.seq <= seq), key=lambda c: c.seq, default=None)


def read_checkpoints(lines: Iterable[str], keys: CheckpointKeys) -> CheckpointLog:
    valid: list[Checkpoint] = []
    rejected: list[RejectedCheckpoint] = []
    for number, text in enumerate(lines, start=1):
        if not text.strip():
            continue
        try:
            checkpoint = Checkpoint.parse(text, number)
        except ValueError as exc:
            rejected.append(RejectedCheckpoint(number, str(exc)))
            continue
        problem = keys.problem(checkpoint)
        if problem is None:
            valid.append(checkpoint)
        else:
            rejected.append(RejectedCheckpoint(number, problem, checkpoint))
    return CheckpointLog(valid, rejected)


@dataclass(frozen=True)
class ChainReport:
    ok: bool
    checked: int
    first_bad_seq: int | None = None
    reason: str | None = None
    checkpoint: Checkpoint | None = None  # the signed checkpoint the ledger contradicts
    head_seq: int | None = None  # where the database says the chain ends
    anchored_seq: int = 0  # the last record a signed checkpoint vouches for

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "checked": self.checked, "first_bad_seq": self.first_bad_seq,
                "reason": self.reason,
                "checkpoint": self.checkpoint.as_dict() if self.checkpoint else None,
                "head_seq": self.head_seq, "anchored_seq": self.anchored_seq}


class ChainVerifier:
    """Checks records one at a time, in sequence order, so a long chain can be verified in
    pages without holding it in memory; each record a checkpoint vouches for must have the hash
    it signed, and `finish` compares the end of the chain with the head the database records
    and with the checkpoints (records removed from the end)."""

    def __init__(self, checkpoints: Iterable[Checkpoint] = (), *,
                 after: Checkpoint | None = None) -> None:
        """`after`: a checkpoint the records up to which were verified when it was signed;
        the walk starts past it."""
        self._prev_hash, self._expected_seq, self._checked = GENESIS, 1, 0
        if after is not None:
            self._prev_hash, self._expected_seq = after.head_hash, after.seq + 1
        self._start = self._anchored = self._expected_seq - 1
        self._anchors: dict[int, list[Checkpoint]] = {}
        for checkpoint in checkpoints:
            self._anchors.setdefault(checkpoint.seq, []).append(checkpoint)
        self._failure: ChainReport | None = None

    def check(self, record: EvidenceRecord) -> bool:
        """Check the next record; False (and a report) at the first one that does not fit."""
        if self._failure is not None:
            return False
        reason, contradicted = None, None
        if record.seq != self._expected_seq:
            reason = (f"expected record {self._expected_seq}, found {record.seq}: a record "
                      "was removed or inserted")
        elif record.prev_hash != self._prev_hash:
            reason = ("link to the previous record is broken" if self._start == 0
                      or record.seq != self._start + 1 else
                      f"it does not link to record {self._start}, which a checkpoint vouches "
                      "for: the records were rewritten")
        elif seal(
            seq=record.seq, source=record.source, kind=record.kind, subject=record.subject,
            received_at=record.received_at, context=record.context,
            payload_hash=record.payload_hash, payload=record.payload, prev_hash=record.prev_hash,
        ) != record.hash:
            reason = "content does not match its hash: the record was altered"
        else:
            contradicted = next((c for c in self._anchors.get(record.seq, ())
                                 if c.head_hash != record.hash), None)
            if contradicted is not None:
                reason = (f"its hash is not the one the checkpoint signed at "
                          f"{contradicted.signed_at} vouches for: "
                          + (f"the records after {self._anchored} (the last one matching a "
                             "checkpoint) were rewritten" if self._anchored
                             else "the chain up to it was rewritten"))
        if reason is not None:
            self._failure = ChainReport(
                False, self._checked, record.seq, reason,
                contradicted or self._vouching_for(self._expected_seq),
                anchored_seq=self._anchored)
            return False
        if record.seq in self._anchors:
            self._anchored = record.seq
        self._prev_hash, self._expected_seq = record.hash, self._expected_seq + 1
        self._checked += 1
        return True

    def _vouching_for(self, seq: int) -> Checkpoint | None:
        """The first checkpoint that vouched for record `seq` (and so is contradicted)."""
        later = [s for s in self._anchors if s >= seq]
        return self._anchors[min(later)][0] if later else None

    def finish(self, head: LedgerHead | None = None) -> ChainReport:
        """The report once every record up to the recorded head was checked."""
        head_seq = head.seq if head is not None else None
        if self._failure is not None:
            return dataclasses.replace(self._failure, head_seq=head_seq)
        last = self._expected_seq - 1
        beyond = [seq for seq in self._anchors if seq > last]
        checkpoint = self._anchors[max(beyond)][0] if beyond else None
        reason, first_bad = None, last + 1
        if head is not None and head.seq > last:
            reason = (f"the database's head says the ledger holds {head.seq} records, but the "
                      f"chain ends at record {last}: the newest records were removed")
        elif checkpoint is not None:
            reason = (f"the checkpoint signed at {checkpoint.signed_at} vouches for "
                      f"{checkpoint.seq} records, but the chain ends at record {last}: the "
                      "newest records were removed")
        elif head is not None and head.seq < last:
            first_bad = head.seq + 1
            reason = (f"the chain runs past the database's head (record {head.seq}): records "
                      "were added outside the ledger")
        elif head is not None and head.hash != self._prev_hash:
            first_bad = last
            reason = (f"the database's head hash is not the hash of record {last}: the head "
                      "or the chain was rewritten")
        if reason is not None:
            return ChainReport(False, self._checked, first_bad, reason, checkpoint, head_seq,
                               self._anchored)
        return ChainReport(True, self._checked, head_seq=head_seq, anchored_seq=self._anchored)

    @property
    def report(self) -> ChainReport:
        """The report so far (no head compared)."""
        return self.finish()


def verify_chain(records: Iterable[EvidenceRecord], head: LedgerHead | None = None,
                 checkpoints: Iterable[Checkpoint] = ()) -> ChainReport:
    """Walk the chain in sequence order and report the first record that does not fit, or
    records missing at the end according to the recorded head and the checkpoints."""
    verifier = ChainVerifier(checkpoints)
    for record in records:
        if not verifier.check(record):
            break
    return verifier.finish(head)
