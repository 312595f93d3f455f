"""The evidence ledger on fakes: verified end to end, anchored by signed checkpoints kept
outside the database, and bundled for a dispute."""

from __future__ import annotations

import dataclasses

import pytest

from domain.errors import NotFound
from tests.unit.application.harness import Mall


async def _rewrite(mall: Mall, seq: int, **changes: object) -> None:
    """What someone who can write the database could do to a record, once the sealer has
    chained it."""
    await mall.container.evidence().seal()
    rows = mall.db.tables["evidence"]
    rows[seq] = dataclasses.replace(rows[seq], **changes)


async def test_the_ledger_of_a_purchase_verifies_and_is_anchored_once(mall: Mall) -> None:
    await mall.paid_order()
    evidence = mall.container.evidence()
    records = len(mall.db.evidence())
    report = await evidence.verify()
    assert (report.ok, report.checked, report.head_seq) == (True, records, records)
    assert len(mall.checkpoints.lines) == 1
    again = await evidence.verify()
    assert again.ok and again.anchored_seq == records
    assert len(mall.checkpoints.lines) == 1  # the checkpoint already vouches for this head


async def test_a_rewritten_record_is_found_by_its_sequence_number(mall: Mall) -> None:
    await mall.paid_order()
    await _rewrite(mall, 3, payload={"amount": 1})
    report = await mall.container.evidence().verify()
    assert not report.ok and report.first_bad_seq == 3
    assert mall.checkpoints.lines == []  # nothing is signed over a broken chain


async def test_records_cut_off_the_end_contradict_the_signed_checkpoint(mall: Mall) -> None:
    await mall.paid_order()
    evidence = mall.container.evidence()
    assert (await evidence.checkpoint()).ok
    del mall.db.tables["evidence"][max(mall.db.tables["evidence"])]
    report = await evidence.verify()
    assert not report.ok and report.checkpoint is not None


async def test_the_periodic_checkpoint_refuses_a_broken_chain_and_alerts_directly(
        mall: Mall) -> None:
    await mall.paid_order()
    alerts_before = len(mall.alerts.alerts)
    await _rewrite(mall, 2, subject="order:someone-else")
    report = await mall.container.evidence().checkpoint()
    assert not report.ok and report.first_bad_seq == 2
    [alert] = mall.alerts.alerts[alerts_before:]
    assert (alert.severity, alert.source) == ("critical", "evidence")
    assert mall.checkpoints.lines == []


async def test_an_unreadable_checkpoint_store_is_reported_not_ignored(mall: Mall) -> None:
    await mall.paid_order()
    mall.checkpoints.error = OSError("disk gone")
    report = await mall.container.evidence().verify()
    assert not report.ok and "could not be read" in (report.reason or "")


async def test_a_dispute_bundle_holds_the_order_its_money_and_its_evidence(
        mall: Mall) -> None:
    _, order = await mall.paid_order()
    bundle = await mall.container.evidence().dispute_bundle(order.id, "adm_1")
    assert bundle["order"]["id"] == order.id
    assert [p["status"] for p in bundle["payments"]] == ["captured"]
    assert len(bundle["shipments"]) == 2
    kinds = {record["kind"] for record in bundle["evidence"]}
    assert {"payment.requested", "payment.transition", "shipment.created"} <= kinds
    assert all(record["seq"] and record["hash"] for record in bundle["evidence"])  # sealed
    assert bundle["chain"]["ok"] is True
    [generated] = mall.db.evidence("dispute.bundle_generated")
    assert generated.context == {"admin_id": "adm_1"}


async def test_no_bundle_for_an_order_that_does_not_exist(mall: Mall) -> None:
    with pytest.raises(NotFound):
        await mall.container.evidence().dispute_bundle("ord_missing", "adm_1")
