"""The admin's verification of the evidence ledger names the first bad record and the signed
checkpoint the ledger contradicts."""

from __future__ import annotations

from typing import Any

from adapters.persistence.tables import EvidenceHead, EvidenceRecord
from domain.evidence import EvidenceDraft
from tests.e2e.identity_steps import admin_of


async def test_a_truncated_ledger_is_reported_with_the_checkpoint_it_contradicts(
        shop: Any) -> None:
    admin = await admin_of(shop)
    for n in range(3):
        await shop.container.ledger().record(EvidenceDraft(
            "test", "note", "order:o1", {}, {"n": n}))
    first = await (await shop.client.post("/v1/admin/evidence/verify", headers=admin)).json()
    assert first["ok"] is True
    assert first["anchored_seq"] == first["head_seq"] == first["checked"] >= 3
    kept = first["head_seq"] - 2

    # Someone who can write the database removes the newest records and rewinds the head.
    rows = await EvidenceRecord.select(EvidenceRecord.hash).where(EvidenceRecord.seq == kept)
    await EvidenceRecord.delete().where(EvidenceRecord.seq > kept)
    await EvidenceHead.update({EvidenceHead.seq: kept,
                               EvidenceHead.head_hash: rows[0]["hash"]}).where(
        EvidenceHead.id == 1)

    response = await shop.client.post("/v1/admin/evidence/verify", headers=admin)
    assert response.status == 200
    report = await response.json()
    assert report["ok"] is False
    assert report["first_bad_seq"] == kept + 1
    assert report["head_seq"] == kept
    assert f"vouches for {first['head_seq']} records" in report["reason"]
    assert report["checkpoint"]["line"] == 1
    assert report["checkpoint"]["seq"] == first["head_seq"]
