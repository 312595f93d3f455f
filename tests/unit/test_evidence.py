"""The evidence ledger: hash-chained records and what a draft keeps of its payload."""

from __future__ import annotations

import dataclasses
import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

from domain.evidence import (
    GENESIS,
    EvidenceDraft,
    EvidenceRecord,
    canonical,
    payload_digest,
    seal,
    verify_chain,
)
from domain.redaction import CARD_PLACEHOLDER, SECRET_PLACEHOLDER

T0 = datetime(2024, 5, 1, 9, 0, tzinfo=UTC)


def record(seq: int, prev_hash: str, *, payload: Any, context: dict[str, Any],
           received_at: datetime, subject: str = "order:o-1") -> EvidenceRecord:
    fields = {
        "seq": seq, "source": "sandbox-payments", "kind": "webhook.received",
        "subject": subject, "received_at": received_at, "context": context,
        "payload_hash": payload_digest(canonical(payload)), "payload": payload,
        "prev_hash": prev_hash,
    }
    return EvidenceRecord(**fields, hash=seal(**fields))


def chain(length: int = 5) -> list[EvidenceRecord]:
    records: list[EvidenceRecord] = []
    prev = GENESIS
    for seq in range(1, length + 1):
        rec = record(seq, prev, payload={"event": f"evt_{seq}", "status": "succeeded"},
                     context={"delivery": seq}, received_at=T0 + timedelta(seconds=seq))
        records.append(rec)
        prev = rec.hash
    return records


def reseal(rec: EvidenceRecord) -> EvidenceRecord:
    fields = {f.name: getattr(rec, f.name) for f in dataclasses.fields(rec) if f.name != "hash"}
    return dataclasses.replace(rec, hash=seal(**fields))


def test_chain_starts_at_genesis_and_links() -> None:
    records = chain()
    assert records[0].seq == 1
    assert records[0].prev_hash == GENESIS == "0" * 64
    for before, after in itertools.pairwise(records):
        assert after.prev_hash == before.hash
    assert len({r.hash for r in records}) == len(records)


def test_intact_chain_verifies() -> None:
    report = verify_chain(chain())
    assert report.ok
    assert report.checked == 5
    assert report.first_bad_seq is None
    assert report.as_dict() == {"ok": True, "checked": 5, "first_bad_seq": None, "reason": None}


def test_empty_chain_verifies() -> None:
    report = verify_chain([])
    assert report.ok
    assert report.checked == 0


def test_seal_is_deterministic_and_covers_every_field() -> None:
    fields = {
        "seq": 1, "source": "s", "kind": "k", "subject": "order:o-1", "received_at": T0,
        "context": {"b": 1, "a": 2}, "payload_hash": "h", "payload": {"x": 1},
        "prev_hash": GENESIS,
    }
    digest = seal(**fields)
    assert digest == seal(**{**fields, "context": {"a": 2, "b": 1}})  # key order is irrelevant
    assert len(digest) == 64
    changes = {"seq": 2, "source": "t", "kind": "j", "subject": "order:o-2",
               "received_at": T0 + timedelta(microseconds=1), "context": {"b": 1},
               "payload_hash": "g", "payload": {"x": 2}, "prev_hash": "1" * 64}
    for name, value in changes.items():
        assert seal(**{**fields, name: value}) != digest, name


def test_altered_payload_is_detected() -> None:
    records = chain()
    records[2] = dataclasses.replace(records[2], payload={"event": "evt_3", "status": "failed"})
    report = verify_chain(records)
    assert not report.ok
    assert report.first_bad_seq == 3
    assert report.checked == 2
    assert "altered" in (report.reason or "")


def test_altered_context_is_detected() -> None:
    records = chain()
    records[1] = dataclasses.replace(records[1], context={"delivery": 99})
    report = verify_chain(records)
    assert (report.ok, report.first_bad_seq) == (False, 2)


def test_altered_received_at_is_detected() -> None:
    records = chain()
    records[3] = dataclasses.replace(records[3], received_at=records[3].received_at
                                     + timedelta(seconds=1))
    report = verify_chain(records)
    assert (report.ok, report.first_bad_seq) == (False, 4)


def test_altered_first_record_is_detected() -> None:
    records = chain()
    records[0] = dataclasses.replace(records[0], subject="order:o-2")
    report = verify_chain(records)
    assert (report.ok, report.first_bad_seq, report.checked) == (False, 1, 0)


def test_altered_and_resealed_record_breaks_the_next_link() -> None:
    records = chain()
    records[1] = reseal(dataclasses.replace(records[1], payload={"forged": True}))
    report = verify_chain(records)
    assert not report.ok
    assert report.first_bad_seq == 3
    assert "link" in (report.reason or "")


def test_deleted_middle_record_is_detected() -> None:
    records = chain()
    del records[2]  # seq 3
    report = verify_chain(records)
    assert not report.ok
    assert report.first_bad_seq == 4
    assert report.checked == 2
    assert "removed" in (report.reason or "")


def test_swapped_records_are_detected() -> None:
    records = chain()
    records[1], records[2] = records[2], records[1]
    report = verify_chain(records)
    assert not report.ok
    assert report.first_bad_seq == 3
    assert report.checked == 1


def test_swapped_then_renumbered_records_are_detected() -> None:
    records = chain()
    second, third = records[1], records[2]
    records[1] = dataclasses.replace(third, seq=2)
    records[2] = dataclasses.replace(second, seq=3)
    report = verify_chain(records)
    assert (report.ok, report.first_bad_seq) == (False, 2)


def test_as_dict_serialises_the_record() -> None:
    rec = chain(1)[0]
    data = rec.as_dict()
    assert data["received_at"] == "2024-05-01T09:00:01+00:00"
    assert data["hash"] == rec.hash
    assert data["prev_hash"] == GENESIS
    assert set(data) == {"seq", "source", "kind", "subject", "received_at", "context",
                         "payload_hash", "payload", "prev_hash", "hash"}


# --- drafts -----------------------------------------------------------------------------------

def draft(context: dict[str, Any], payload: Any, raw: bytes | None = None) -> EvidenceDraft:
    return EvidenceDraft(source="storefront", kind="http.exchange", subject="order:o-1",
                         context=context, payload=payload, raw=raw)


def test_redacted_removes_card_numbers_and_masks_secrets() -> None:
    context = {"Authorization": "Bearer abc.def.ghi", "ip": "203.0.113.7",
               "api_key": "sk_test_123"}
    payload = {
        "note": "card 4242 4242 4242 4242 please",
        "password": "correct horse battery",
        "client_secret": "pi_1_secret_2",
        "card": {"number_text": "4242-4242-4242-4242", "cvc": "123"},
        "payment_method": "pm_sandbox_success",
        "tracking_number": "CJ6234567891",
        "shipments": [{"tracking_number": "1Z999AA10123456784"}],
    }
    ctx, kept, digest = draft(context, payload).redacted()
    assert ctx == {"Authorization": SECRET_PLACEHOLDER, "ip": "203.0.113.7",
                   "api_key": SECRET_PLACEHOLDER}
    assert kept == {
        "note": f"card {CARD_PLACEHOLDER} please",
        "password": SECRET_PLACEHOLDER,
        "client_secret": SECRET_PLACEHOLDER,
        "card": {"number_text": CARD_PLACEHOLDER, "cvc": SECRET_PLACEHOLDER},
        "payment_method": "pm_sandbox_success",
        "tracking_number": "CJ6234567891",
        "shipments": [{"tracking_number": "1Z999AA10123456784"}],
    }
    assert digest == payload_digest(canonical(payload))
    assert "4242" not in repr((ctx, kept))


def test_redacted_digest_covers_the_raw_bytes_when_given() -> None:
    raw = b'{"id":"evt_1","password":"x"}'
    _, payload, digest = draft({}, {"id": "evt_1", "password": "x"}, raw=raw).redacted()
    assert digest == payload_digest(raw)
    assert payload == {"id": "evt_1", "password": SECRET_PLACEHOLDER}


def test_redacted_leaves_the_draft_untouched() -> None:
    payload = {"password": "x"}
    d = draft({}, payload)
    d.redacted()
    assert d.payload == {"password": "x"}
