"""The evidence ledger against someone who can write the database: records edited, removed
from the middle or the end, or the whole chain recomputed, are found by the service and by
`mall evidence verify` (exit 1), through the recorded head and the signed checkpoints kept
outside the database; and a checkpoint file with a forged line is reported."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import subprocess
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from adapters.checkpoints import FileCheckpointStore, checkpoint_keys
from adapters.persistence.tables import EvidenceHead, EvidenceRecord
from application.evidence import EvidenceService
from domain.evidence import EvidenceDraft, seal


async def _append(container: Any, count: int) -> None:
    for n in range(count):
        async with container.uow()() as u:
            await u.evidence.append(EvidenceDraft("test", "note", "order:o1", {"n": n},
                                                  {"n": n, "amount": 1000}))
            await u.commit()


async def _records(container: Any) -> list[Any]:
    async with container.uow()() as u:
        return list(await u.evidence.chain(0, 1000))


async def _set_head(seq: int, head_hash: str) -> None:
    await EvidenceHead.update({EvidenceHead.seq: seq, EvidenceHead.head_hash: head_hash}).where(
        EvidenceHead.id == 1)


# --- what someone who can write the database does ---------------------------------------------

async def edit(container: Any) -> None:
    await EvidenceRecord.update({EvidenceRecord.payload: json.dumps({"n": 2, "amount": 1})}).where(
        EvidenceRecord.seq == 3)


async def delete_in_the_middle(container: Any) -> None:
    await EvidenceRecord.raw("DELETE FROM evidence_record WHERE seq = 3")


async def delete_the_newest(container: Any) -> None:
    await EvidenceRecord.raw("DELETE FROM evidence_record WHERE seq > 3")


async def delete_the_newest_and_rewind_the_head(container: Any) -> None:
    third = (await _records(container))[2]
    await EvidenceRecord.raw("DELETE FROM evidence_record WHERE seq > 3")
    await _set_head(3, third.hash)


async def reseal(container: Any) -> None:
    """Change record 2, recompute every hash after it consistently and update the head."""
    prev = None
    for record in await _records(container):
        if record.seq < 2:
            prev = record.hash
            continue
        payload = {"n": 1, "amount": 1} if record.seq == 2 else record.payload
        digest = seal(seq=record.seq, source=record.source, kind=record.kind,
                      subject=record.subject, received_at=record.received_at,
                      context=record.context, payload_hash=record.payload_hash,
                      payload=payload, prev_hash=prev)
        await EvidenceRecord.update({
            EvidenceRecord.payload: json.dumps(payload), EvidenceRecord.prev_hash: prev,
            EvidenceRecord.hash: digest,
        }).where(EvidenceRecord.seq == record.seq)
        prev = digest
    await _set_head(5, prev or "")


TAMPERING: dict[str, tuple[Callable[[Any], Awaitable[None]], int, str]] = {
    # how, the first bad record reported, what the reason says
    "edit": (edit, 3, "altered"),
    "delete in the middle": (delete_in_the_middle, 4, "removed"),
    "delete the newest": (delete_the_newest, 4, "holds 5 records"),
    "delete the newest and rewind the head": (delete_the_newest_and_rewind_the_head, 4,
                                              "vouches for 5 records"),
    "reseal the whole chain": (reseal, 5, "rewritten"),
}


def _cli(container: Any, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MALL_SQLITE_PATH": container.config.sqlite_path(),
           "DATABASE_URL": container.config.database_url(),
           "MALL_KEYS_FILE": container.config.keys_file(), "MALL_LOG_LEVEL": "WARNING",
           "MALL_EVIDENCE_CHECKPOINT_FILE": container.config.evidence_checkpoint_file(),
           "MALL_ALLOW_SANDBOX": "true"}
    return subprocess.run([sys.executable, "-m", "entrypoints.cli", *args], env=env,
                          capture_output=True, text=True, timeout=60, cwd=tmp_path)


async def cli(container: Any, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return await asyncio.to_thread(_cli, container, tmp_path, *args)


@pytest.mark.parametrize("tamper", list(TAMPERING))
async def test_tampering_is_found_by_the_service_and_the_cli(
        container: Any, tmp_path: Path, tamper: str) -> None:
    how, first_bad, reason = TAMPERING[tamper]
    await _append(container, 5)
    signed = await container.evidence().verify()  # signs a checkpoint of the 5 records
    assert (signed.ok, signed.anchored_seq) == (True, 5)

    await how(container)

    report = await container.evidence().verify()
    assert not report.ok
    assert report.first_bad_seq == first_bad, report
    assert reason in (report.reason or ""), report.reason
    assert report.checkpoint is not None and report.checkpoint.seq == 5  # the one it contradicts
    # The old name of the command stays an alias.
    for args in [("evidence", "verify", "--json")] + [("verify-evidence", "--json")] * (
            tamper == "edit"):
        run = await cli(container, tmp_path, *args)
        assert run.returncode == 1, (args, run.stdout, run.stderr)
        printed = json.loads(run.stdout)
        assert (printed["ok"], printed["first_bad_seq"]) == (False, first_bad)
        assert printed["checkpoint"]["line"] == 1
        assert f"evidence ledger not verified: record {first_bad}" in run.stderr
        assert "line 1 of" in run.stderr
    # Nothing signed the tampered ledger.
    assert len(Path(container.config.evidence_checkpoint_file()).read_text().splitlines()) == 1


async def test_an_intact_ledger_verifies_and_is_anchored(container: Any, tmp_path: Path) -> None:
    await _append(container, 3)
    run = await cli(container, tmp_path, "evidence", "verify")
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith("evidence ledger verified: 3 records checked")
    run = await cli(container, tmp_path, "evidence", "verify", "--json")
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout) == {"ok": True, "checked": 3, "first_bad_seq": None,
                                      "reason": None, "checkpoint": None, "head_seq": 3,
                                      "anchored_seq": 3}
    lines = Path(container.config.evidence_checkpoint_file()).read_text().splitlines()
    assert [json.loads(line)["seq"] for line in lines] == [3]
    # A new record, read while another is appended, verifies too.
    await asyncio.gather(_append(container, 2), container.evidence().verify())
    report = await container.evidence().verify()
    assert (report.ok, report.checked, report.anchored_seq) == (True, 5, 5)


async def test_the_periodic_checkpoint_signs_only_a_chain_that_checks_out(
        container: Any, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, "mall.evidence")
    caplog.set_level(logging.INFO, "mall.alerts")
    path = Path(container.config.evidence_checkpoint_file())
    evidence = container.evidence()
    assert (await evidence.checkpoint()).ok and not path.exists()  # nothing to vouch for yet
    await _append(container, 3)
    assert (await evidence.checkpoint()).anchored_seq == 3
    assert (await evidence.checkpoint()).anchored_seq == 3  # nothing new: no new line
    await _append(container, 2)
    report = await evidence.checkpoint()
    assert (report.ok, report.checked, report.anchored_seq) == (True, 2, 5)
    lines = path.read_text().splitlines()
    assert [json.loads(line)["seq"] for line in lines] == [3, 5]
    # Each checkpoint is in the log as well, word for word.
    logged = [r.getMessage() for r in caplog.records if r.name == "mall.evidence"]
    assert logged == [f"evidence checkpoint {line}" for line in lines]

    await reseal(container)
    await _append(container, 1)
    report = await evidence.checkpoint()
    assert not report.ok
    assert report.first_bad_seq == 6
    assert "does not link to record 5" in (report.reason or "")
    assert path.read_text().splitlines() == lines
    assert any(r.levelno == logging.ERROR and "not written" in r.getMessage()
               for r in caplog.records)
    # The operators are told at once, not through the database.
    alerts = [r.getMessage() for r in caplog.records if r.name == "mall.alerts"]
    assert len(alerts) == 1 and "[critical] evidence" in alerts[0], alerts
    assert "record 6" in alerts[0]


@pytest.mark.parametrize("forgery", ["altered", "signed by another key", "not a checkpoint"])
async def test_a_forged_checkpoint_line_is_reported(
        container: Any, tmp_path: Path, forgery: str) -> None:
    await _append(container, 3)
    assert (await container.evidence().verify()).ok
    path = Path(container.config.evidence_checkpoint_file())
    line = json.loads(path.read_text())
    if forgery == "altered":  # claims the ledger was shorter than it was
        forged = json.dumps({**line, "seq": 2})
    elif forgery == "signed by another key":
        forged = json.dumps({**line, "key_id": "mine", "mac": "ab" * 32})
    else:
        forged = "{"
    path.write_text(forged + "\n")

    report = await container.evidence().verify()
    assert not report.ok
    assert report.first_bad_seq is None
    assert (report.reason or "").startswith("checkpoint line 1: ")
    run = await cli(container, tmp_path, "evidence", "verify", "--json")
    assert run.returncode == 1
    assert "checkpoint line 1: " in json.loads(run.stdout)["reason"]
    assert path.read_text() == forged + "\n"  # a broken ledger is never signed


class FullDisk(FileCheckpointStore):
    async def append(self, checkpoint: Any) -> None:
        raise OSError(28, "No space left on device")


async def test_a_checkpoint_store_that_fails_is_a_problem(
        container: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    await _append(container, 1)
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    keys = checkpoint_keys({}, "", "secret")
    unreadable = EvidenceService(container.uow(), container.clock(),
                                 FileCheckpointStore(str(blocker / "checkpoints.jsonl")), keys,
                                 container.alerts())
    report = await unreadable.verify()
    assert not report.ok
    assert "could not be read" in (report.reason or "")
    full = EvidenceService(container.uow(), container.clock(),
                           FullDisk(str(tmp_path / "checkpoints.jsonl")), keys,
                           container.alerts())
    report = await full.verify()
    assert (report.ok, report.checked, report.anchored_seq) == (False, 1, 0)
    assert "No space left" in (report.reason or "")
    assert "could not be written" in (report.reason or "")
    # The periodic job says so to the operators.
    caplog.set_level(logging.INFO, "mall.alerts")
    assert not (await full.checkpoint()).ok
    assert any("No space left" in r.getMessage() for r in caplog.records
               if r.name == "mall.alerts")


async def test_the_maintenance_commands_end_with_a_summary_or_a_json_report(
        container: Any, tmp_path: Path) -> None:
    """Reconciliation and retention, run by hand: a summary line for a person, the report
    alone with --json (the progress shows on a terminal only, on stderr)."""
    run = await cli(container, tmp_path, "reconcile")
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith("reconciliation: 0 payments asked about, 0 changed")
    run = await cli(container, tmp_path, "reconcile", "--json")
    assert json.loads(run.stdout) == {"checked": 0, "changed": 0, "unreachable": 0}
    run = await cli(container, tmp_path, "retention", "--json")
    assert run.returncode == 0, run.stderr
    assert set(json.loads(run.stdout)) == {"retained_records", "sign_in_leftovers",
                                           "finished_work", "access_logs", "ci_resealed"}
    run = await cli(container, tmp_path, "migrate")
    assert (run.returncode, run.stdout) == (0, "database schema is up to date\n")
