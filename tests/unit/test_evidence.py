"""The evidence ledger: hash-chained records and what a draft keeps of its payload."""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from unittest.mock import ANY

import pytest

from domain.evidence import (
    GENESIS,
    ChainVerifier,
    Checkpoint,
    CheckpointKeys,
    EvidenceDraft,
    EvidenceRecord,
    LedgerHead,
    PendingEvidence,
    canonical,
    chain_onto,
    payload_digest,
    read_checkpoints,
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


def pending(records: list[EvidenceRecord]) -> list[PendingEvidence]:
    """The records as they waited before the sealer chained them."""
    return [PendingEvidence(**r.content(), id=n) for n, r in enumerate(records, start=10)]


def test_pending_records_are_sealed_as_the_chain_always_sealed_them() -> None:
    records = chain()
    assert chain_onto(LedgerHead(0, GENESIS), pending(records)) == records
    # In batches: each one chained onto the head the one before left.
    first = chain_onto(LedgerHead(0, GENESIS), pending(records[:2]))
    assert chain_onto(LedgerHead(2, first[-1].hash), pending(records[2:])) == records[2:]
    assert verify_chain(records, LedgerHead(5, records[-1].hash)).ok
    assert chain_onto(LedgerHead(5, records[-1].hash), []) == []


def test_a_pending_record_is_listed_with_no_place_in_the_chain() -> None:
    listed = pending(chain(1))[0].as_dict()
    assert (listed["seq"], listed["prev_hash"], listed["hash"]) == (None, None, None)
    assert {k: v for k, v in listed.items() if v is not None} == {
        k: v for k, v in chain(1)[0].as_dict().items()
        if k not in ("seq", "prev_hash", "hash")}


def test_intact_chain_verifies() -> None:
    report = verify_chain(chain())
    assert report.ok
    assert report.checked == 5
    assert report.first_bad_seq is None
    assert report.as_dict() == {"ok": True, "checked": 5, "first_bad_seq": None, "reason": None,
                                "checkpoint": None, "head_seq": None, "anchored_seq": 0}


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


Tamper = Callable[[list[EvidenceRecord]], object]


def edited(index: int, edit: Callable[[EvidenceRecord], EvidenceRecord]) -> Tamper:
    def tamper(records: list[EvidenceRecord]) -> None:
        records[index] = edit(records[index])
    return tamper


def swapped(records: list[EvidenceRecord]) -> None:
    records[1], records[2] = records[2], records[1]


def swapped_and_renumbered(records: list[EvidenceRecord]) -> None:
    second, third = records[1], records[2]
    records[1] = dataclasses.replace(third, seq=2)
    records[2] = dataclasses.replace(second, seq=3)


# How a five-record chain is tampered with, and what the verifier reports: the first bad
# seq, how many records it checked before (ANY where that is not the point), and its reason.
TAMPERING = [
    pytest.param(edited(2, lambda r: dataclasses.replace(
        r, payload={"event": "evt_3", "status": "failed"})), 3, 2, "altered",
        id="altered_payload"),
    pytest.param(edited(1, lambda r: dataclasses.replace(r, context={"delivery": 99})),
                 2, ANY, "", id="altered_context"),
    pytest.param(edited(3, lambda r: dataclasses.replace(
        r, received_at=r.received_at + timedelta(seconds=1))), 4, ANY, "",
        id="altered_received_at"),
    pytest.param(edited(0, lambda r: dataclasses.replace(r, subject="order:o-2")), 1, 0, "",
                 id="altered_first_record"),
    pytest.param(edited(1, lambda r: reseal(dataclasses.replace(r, payload={"forged": True}))),
                 3, ANY, "link", id="altered_and_resealed_record_breaks_the_next_link"),
    pytest.param(lambda records: records.pop(2), 4, 2, "removed",  # seq 3
                 id="deleted_middle_record"),
    pytest.param(swapped, 3, 1, "", id="swapped_records"),
    pytest.param(swapped_and_renumbered, 2, ANY, "", id="swapped_then_renumbered_records"),
]


@pytest.mark.parametrize(("tamper", "first_bad_seq", "checked", "reason"), TAMPERING)
def test_tampering_is_detected(tamper: Tamper, first_bad_seq: int, checked: int,
                               reason: str) -> None:
    records = chain()
    tamper(records)
    report = verify_chain(records)
    assert (report.ok, report.first_bad_seq) == (False, first_bad_seq)
    assert report.checked == checked
    assert reason in (report.reason or "")


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


# --- the recorded head and signed checkpoints -------------------------------------------------

KEYS = CheckpointKeys({"k2": b"2" * 32, "k1": b"1" * 32}, "k2")
SIGNED_AT = T0 + timedelta(hours=1)


def head_of(records: list[EvidenceRecord]) -> LedgerHead:
    return LedgerHead(records[-1].seq, records[-1].hash) if records else LedgerHead(0, GENESIS)


def checkpoint(records: list[EvidenceRecord], seq: int, keys: CheckpointKeys = KEYS,
               line: int = 0) -> Checkpoint:
    signed = keys.sign(LedgerHead(seq, records[seq - 1].hash), SIGNED_AT)
    return dataclasses.replace(signed, line=line)


def rewritten(records: list[EvidenceRecord], seq: int, payload: Any) -> list[EvidenceRecord]:
    """What someone who can write the database makes of the chain: record `seq` changed and
    every hash from there on recomputed, each link consistent."""
    forged = list(records[:seq - 1])
    prev = forged[-1].hash if forged else GENESIS
    for rec in records[seq - 1:]:
        changed = dataclasses.replace(rec, prev_hash=prev,
                                      payload=payload if rec.seq == seq else rec.payload)
        forged.append(reseal(changed))
        prev = forged[-1].hash
    return forged


def test_an_intact_chain_matches_its_head_and_its_checkpoints() -> None:
    records = chain()
    report = verify_chain(records, head_of(records),
                          [checkpoint(records, 3), checkpoint(records, 5)])
    assert report.ok
    assert (report.checked, report.head_seq, report.anchored_seq) == (5, 5, 5)


def test_newest_records_removed_are_found_through_the_recorded_head() -> None:
    records = chain()
    assert verify_chain(records[:3]).ok  # the chain alone cannot tell
    report = verify_chain(records[:3], head_of(records))
    assert not report.ok
    assert (report.first_bad_seq, report.checked, report.head_seq) == (4, 3, 5)
    assert "holds 5 records" in (report.reason or "")
    assert "removed" in (report.reason or "")


def test_newest_records_removed_and_head_rewound_are_found_through_a_checkpoint() -> None:
    records = chain()
    signed = checkpoint(records, 5, line=7)
    truncated = records[:3]
    assert verify_chain(truncated, head_of(truncated)).ok  # head and chain agree
    report = verify_chain(truncated, head_of(truncated), [signed])
    assert not report.ok
    assert report.first_bad_seq == 4
    assert report.checkpoint == signed
    assert "vouches for 5 records" in (report.reason or "")
    assert report.as_dict()["checkpoint"] == {
        "line": 7, "seq": 5, "head_hash": records[4].hash,
        "signed_at": SIGNED_AT.isoformat(), "key_id": "k2"}


def test_a_resealed_chain_contradicts_the_checkpoints_signed_before() -> None:
    records = chain()
    signed = [checkpoint(records, 2), checkpoint(records, 4)]
    forged = rewritten(records, 3, {"event": "evt_3", "status": "refunded"})
    assert verify_chain(forged, head_of(forged)).ok  # plain SHA-256: consistent again
    report = verify_chain(forged, head_of(forged), signed)
    assert not report.ok
    assert (report.first_bad_seq, report.checked, report.anchored_seq) == (4, 3, 2)
    assert report.checkpoint == signed[1]
    assert "records after 2" in (report.reason or "")
    assert "rewritten" in (report.reason or "")


def test_a_chain_resealed_from_its_first_record_is_found() -> None:
    records = chain()
    forged = rewritten(records, 1, {"event": "evt_1", "status": "failed"})
    report = verify_chain(forged, head_of(forged), [checkpoint(records, 5)])
    assert (report.ok, report.first_bad_seq) == (False, 5)
    assert "chain up to it was rewritten" in (report.reason or "")


def test_an_edited_record_names_the_checkpoint_that_vouched_for_it() -> None:
    records = chain()
    signed = checkpoint(records, 4)
    records[1] = dataclasses.replace(records[1], payload={"forged": True})
    report = verify_chain(records, head_of(records), [checkpoint(records, 1), signed])
    assert (report.ok, report.first_bad_seq, report.checkpoint) == (False, 2, signed)
    assert "altered" in (report.reason or "")


def test_a_record_deleted_in_the_middle_names_the_checkpoint_that_vouched_for_it() -> None:
    records = chain()
    signed = checkpoint(records, 5)
    del records[2]
    report = verify_chain(records, head_of(records), [signed])
    assert (report.ok, report.first_bad_seq, report.checkpoint) == (False, 4, signed)
    assert "removed" in (report.reason or "")


def test_a_head_that_is_not_the_last_record_is_reported() -> None:
    records = chain()
    report = verify_chain(records, LedgerHead(5, "f" * 64))
    assert (report.ok, report.first_bad_seq) == (False, 5)
    report = verify_chain(records, head_of(records[:3]))
    assert (report.ok, report.first_bad_seq) == (False, 4)
    assert "past the database's head" in (report.reason or "")


def test_verification_can_start_at_a_checkpoint() -> None:
    records = chain()
    start = checkpoint(records, 3)
    verifier = ChainVerifier([start], after=start)
    assert all(verifier.check(r) for r in records[3:])
    report = verifier.finish(head_of(records))
    assert (report.ok, report.checked, report.anchored_seq) == (True, 2, 3)

    forged = rewritten(records, 2, {"forged": True})
    verifier = ChainVerifier([start], after=start)
    assert not verifier.check(forged[3])
    report = verifier.finish(head_of(forged))
    assert report.first_bad_seq == 4
    assert "does not link to record 3" in (report.reason or "")


def test_a_checkpoint_verifies_under_its_own_key_after_a_rotation() -> None:
    records = chain()
    old_ring = CheckpointKeys({"k1": b"1" * 32}, "k1")
    old = checkpoint(records, 2, keys=old_ring)
    new = checkpoint(records, 5)
    assert (old.key_id, new.key_id) == ("k1", "k2")  # the current key signs
    assert KEYS.problem(old) is None and KEYS.problem(new) is None
    assert "not in the checkpoint key ring" in (old_ring.problem(new) or "")


def test_an_altered_or_forged_checkpoint_is_not_trusted() -> None:
    records = chain()
    signed = checkpoint(records, 5)
    for change in ({"seq": 4}, {"head_hash": records[3].hash}, {"signed_at": "2030-01-01"},
                   {"key_id": "k1"}, {"mac": "0" * 64}):
        assert "forged or altered" in (KEYS.problem(dataclasses.replace(signed, **change))
                                       or ""), change
    someone_else = CheckpointKeys({"k2": b"x" * 32}, "k2")
    assert "forged" in (KEYS.problem(checkpoint(records, 5, keys=someone_else)) or "")


def test_a_key_ring_refuses_short_or_missing_keys() -> None:
    for keys, current in (({"k": b"short"}, "k"), ({"k": b"k" * 32}, "other"),
                          ({"": b"k" * 32}, "")):
        try:
            CheckpointKeys(keys, current)
        except ValueError:
            continue
        raise AssertionError(f"{keys} accepted")


def test_stored_checkpoints_are_read_back_and_bad_lines_rejected() -> None:
    records = chain()
    good = checkpoint(records, 3)
    altered = good.to_line().replace('"seq":3', '"seq":5')
    unknown = checkpoint(records, 4, keys=CheckpointKeys({"gone": b"g" * 32}, "gone"))
    lines = [good.to_line(), "", altered, "not json", '{"seq": 1}', unknown.to_line(),
             good.to_line().replace('"seq":3', '"seq":true')]
    log = read_checkpoints(lines, KEYS)
    assert log.valid == [dataclasses.replace(good, line=1)]
    assert [(r.line, r.checkpoint is not None) for r in log.rejected] == [
        (3, True), (4, False), (5, False), (6, True), (7, False)]
    reasons = [r.reason for r in log.rejected]
    assert "forged or altered" in reasons[0]
    assert reasons[1] == "it is not JSON"
    assert "not a checkpoint" in reasons[2]
    assert "'gone'" in reasons[3]
    assert "seq" in reasons[4]
    assert log.newest_up_to(10) == log.valid[0] and log.newest_up_to(2) is None


def test_a_checkpoint_line_round_trips_and_shows_no_signature() -> None:
    signed = checkpoint(chain(), 2)
    assert Checkpoint.parse(signed.to_line(), 9) == dataclasses.replace(signed, line=9)
    assert "\n" not in signed.to_line()
    assert "mac" not in signed.as_dict()
