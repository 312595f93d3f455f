"""Evidence without a global lock, on both engines: an append is one INSERT of an unsealed
record; the sealer chains pending records in batches, in the order they were appended, into
the chain verification knows (records sealed the old way included); sealing twice changes
nothing, and two sealers at once never fork the chain."""

from __future__ import annotations

import asyncio
import contextvars
import json
from collections.abc import Coroutine
from datetime import UTC, datetime
from typing import Any

import pytest

from adapters.persistence.tables import EvidenceRecord
from domain.evidence import EvidenceDraft, PendingEvidence
from tests.evidence_rows import append_sealed
from tests.sql_statements import count_statements


def _draft(n: int) -> EvidenceDraft:
    return EvidenceDraft("test", "note", "order:o1", {"n": n}, {"n": n, "amount": 1000})


async def _append(container: Any, n: int) -> PendingEvidence:
    async with container.uow()() as u:
        pending = await u.evidence.append(_draft(n))
        await u.commit()
    return pending


async def _chain(container: Any) -> list[Any]:
    async with container.uow()() as u:
        return list(await u.evidence.chain(0, 10_000))


def _elsewhere(work: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
    """`work` as another request would run it: outside the transaction this task has open."""
    return asyncio.create_task(work, context=contextvars.Context())


async def _head(container: Any) -> Any:
    async with container.uow()() as u:
        return await u.evidence.head()


async def test_an_append_is_one_insert_and_leaves_the_head_alone(container: Any) -> None:
    async with container.uow()() as u:
        with count_statements() as seen:  # on PostgreSQL the INSERT goes with the commit
            pending = await u.evidence.append(_draft(1))
            await u.commit()
    assert (seen.count, seen.texts) == (1, ["INSERT"])
    assert pending.as_dict()["seq"] is None and pending.as_dict()["hash"] is None
    assert (await _head(container)).seq == 0
    assert await _chain(container) == []


async def test_concurrent_appends_are_sealed_into_one_chain_in_the_order_they_came(
        container: Any) -> None:
    pending = await asyncio.gather(*(_append(container, n) for n in range(30)))
    by_arrival = sorted(pending, key=lambda p: p.id)

    assert await container.evidence().seal(batch=7) == 30  # five transactions
    records = await _chain(container)
    assert [r.seq for r in records] == list(range(1, 31))
    assert [r.payload for r in records] == [p.payload for p in by_arrival]
    assert [r.received_at for r in records] == [p.received_at for p in by_arrival]
    head = await _head(container)
    assert (head.seq, head.hash) == (30, records[-1].hash)
    assert await EvidenceRecord.count().where(EvidenceRecord.seq.is_null()) == 0
    report = await container.evidence().verify()
    assert (report.ok, report.checked, report.head_seq) == (True, 30, 30)


async def test_sealing_again_changes_nothing(container: Any) -> None:
    for n in range(3):
        await _append(container, n)
    evidence = container.evidence()
    assert await evidence.seal() == 3
    before = (await _chain(container), await _head(container))
    assert await evidence.seal() == 0
    assert (await _chain(container), await _head(container)) == before


async def test_audits_list_pending_records_after_the_sealed_ones(container: Any) -> None:
    await _append(container, 1)
    await container.evidence().seal()
    await _append(container, 2)
    listed = await container.evidence().of_subject("order:o1")
    assert [(r["seq"], r["payload"]["n"]) for r in listed] == [(1, 1), (None, 2)]
    assert listed[0]["hash"] and listed[1]["hash"] is None and listed[1]["prev_hash"] is None
    assert (await container.evidence().verify()).checked == 2  # verifying seals first
    listed = await container.evidence().of_subject("order:o1")
    assert [r["seq"] for r in listed] == [1, 2]


async def test_records_listed_pending_are_handed_out_sealed_whoever_sealed_them(
        container: Any) -> None:
    """What an erasure certificate and a dispute bundle rely on."""
    async with container.uow()() as u:
        own = await u.evidence.append(_draft(1))
        assert [r.seq for r in await u.evidence.sealed([own])] == [1]  # before its commit
        await u.commit()
    await _append(container, 2)
    await _append(container, 3)
    async with container.uow()() as u:
        listed = [r for r in await u.evidence.of_subject("order:o1", 10)
                  if isinstance(r, PendingEvidence)]
    assert [p.payload["n"] for p in listed] == [2, 3]
    assert await container.evidence().seal() == 2  # the periodic sealer came first
    async with container.uow()() as u:
        sealed = await u.evidence.sealed(listed)
        await u.commit()
    assert [(r.seq, r.payload["n"]) for r in sealed] == [(2, 2), (3, 3)]
    assert sealed == (await _chain(container))[1:]


async def test_records_sealed_before_appends_were_pending_still_verify(container: Any) -> None:
    """Two records written as appends used to write them (sealed at once, head updated), then
    pending ones chained after them; a record sealed by the sealer and then altered is found."""
    for n in (1, 2):
        async with container.uow()() as u:
            await append_sealed(_draft(n), datetime(2026, 11, 30, 9, n, tzinfo=UTC))
            await u.commit()
    prev = (await _head(container)).hash
    for n in (3, 4):
        await _append(container, n)
    report = await container.evidence().verify()
    assert (report.ok, report.checked, report.anchored_seq) == (True, 4, 4)
    assert (await _chain(container))[2].prev_hash == prev

    await EvidenceRecord.update({EvidenceRecord.payload: json.dumps({"n": 30})}).where(
        EvidenceRecord.seq == 3)
    report = await container.evidence().verify()
    assert (report.ok, report.first_bad_seq) == (False, 3)
    assert "altered" in (report.reason or "")


@pytest.fixture
def postgres_only(engine_name: str) -> None:
    if engine_name != "postgres":
        pytest.skip("SQLite has one writer at a time: its IMMEDIATE transactions serialize "
                    "appends and sealers alike")


@pytest.mark.usefixtures("postgres_only")
async def test_appends_do_not_wait_for_a_sealer_holding_the_head(container: Any) -> None:
    await _append(container, 1)
    async with container.uow()() as sealer:
        assert len(await sealer.evidence.seal(10)) == 1  # the head is locked until commit
        await asyncio.wait_for(_elsewhere(_append(container, 2)), timeout=5)
        await sealer.commit()
    assert await container.evidence().seal() == 1
    assert [r.payload["n"] for r in await _chain(container)] == [1, 2]


@pytest.mark.usefixtures("postgres_only")
async def test_two_sealers_at_once_do_not_fork_the_chain(container: Any) -> None:
    for n in range(40):
        await _append(container, n)
    evidence = container.evidence()

    # One sealer holds the head; another must wait for it, then chain after what it sealed.
    async with container.uow()() as first:
        assert len(await first.evidence.seal(15)) == 15
        second = _elsewhere(evidence.seal(batch=10))
        await asyncio.sleep(0.5)
        assert not second.done()
        await first.commit()
    assert await asyncio.wait_for(second, timeout=10) == 25

    for n in range(40, 100):
        await _append(container, n)
    sealed = await asyncio.gather(*(evidence.seal(batch=4) for _ in range(4)))
    assert sum(sealed) == 60
    records = await _chain(container)
    assert [r.seq for r in records] == list(range(1, 101))
    assert [r.payload["n"] for r in records] == list(range(100))
    report = await evidence.verify()
    assert (report.ok, report.checked, report.head_seq) == (True, 100, 100)
