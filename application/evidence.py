"""Reading and verifying the evidence ledger (audits, disputes)."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from typing import Any

from application.ordering import order_view, shipment_view
from application.payments.views import payment_view
from application.ports import (
    Alert,
    AlertSink,
    CheckpointStore,
    Clock,
    UnitOfWork,
    UnitOfWorkFactory,
)
from domain.errors import NotFound
from domain.evidence import (
    ChainReport,
    ChainVerifier,
    CheckpointKeys,
    CheckpointLog,
    EvidenceDraft,
    LedgerEntry,
    LedgerHead,
    PendingEvidence,
    read_checkpoints,
)

log = logging.getLogger("mall.evidence")


SEAL_BATCH = 500  # records chained per transaction


class EvidenceService:
    """Seals, reads and verifies the ledger, and anchors it outside the database with signed
    checkpoints over (sequence, head hash)."""

    def __init__(self, uow: UnitOfWorkFactory, clock: Clock, checkpoints: CheckpointStore,
                 keys: CheckpointKeys, alerts: AlertSink) -> None:
        self._uow, self._clock = uow, clock
        self._checkpoints, self._keys, self._alerts = checkpoints, keys, alerts
        # Told how far a verification is (records checked, of those to check): the command
        # line shows a progress bar.
        self.on_progress: Callable[[int, int], None] = lambda done, total: None

    async def seal(self, batch: int = SEAL_BATCH) -> int:
        """Chain every pending record into the ledger, a batch per transaction, off the
        requests that appended them (the periodic job, and before each verification); how
        many were sealed."""
        total = 0
        while True:
            async with self._uow() as uow:
                sealed = await uow.evidence.seal(batch)
                await uow.commit()
            total += len(sealed)
            if len(sealed) < batch:
                return total

    async def of_subject(self, subject: str, limit: int = 500) -> list[dict[str, Any]]:
        """The records about `subject`: the sealed ones, then those still pending (with seq,
        prev_hash and hash null until the sealer chains them)."""
        # One moment for both reads: a record sealed between them would be in neither.
        async with self._uow(snapshot=True) as uow:
            records = await uow.evidence.of_subject(subject, limit)
        return [record.as_dict() for record in records]

    async def verify(self, page: int = 1000) -> ChainReport:
        """Seal what is pending, then verify the whole chain, a page at a time: every link and
        hash, the head the database records, and every signed checkpoint; then sign a
        checkpoint of the head."""
        await self.seal()
        stored = await self._read_checkpoints()
        if isinstance(stored, ChainReport):
            return stored
        # Checkpoints before the head: one signed meanwhile can never be past the head read.
        head = await self._head()
        report = await self._walk(ChainVerifier(stored.valid), 0, head, page)
        if report.ok and stored.rejected:
            bad = stored.rejected[0]
            return ChainReport(False, report.checked, None,
                               f"checkpoint line {bad.line}: {bad.reason}", bad.checkpoint,
                               head.seq, report.anchored_seq)
        return await self._anchor(head, report) if report.ok else report

    async def checkpoint(self, page: int = 1000) -> ChainReport:
        """Check the records added since the newest checkpoint, then sign one of the head (the
        periodic job). A chain that does not check out is not signed, and the operators are
        alerted directly (not through the database, which may be what was tampered with)."""
        await self.seal()
        stored = await self._read_checkpoints()
        if isinstance(stored, ChainReport):
            return await self._not_signed(stored)
        for bad in stored.rejected:
            log.warning("evidence checkpoint line %d is not trusted: %s", bad.line, bad.reason)
        head = await self._head()
        start = stored.newest_up_to(head.seq)
        report = await self._walk(ChainVerifier(stored.valid, after=start),
                                  start.seq if start else 0, head, page)
        if not report.ok:
            return await self._not_signed(report)
        report = await self._anchor(head, report)
        return report if report.ok else await self._not_signed(report)

    async def _not_signed(self, report: ChainReport) -> ChainReport:
        at = f"record {report.first_bad_seq}: " if report.first_bad_seq is not None else ""
        log.error("evidence checkpoint not written: %s%s", at, report.reason)
        await self._alerts.alert(Alert(
            "critical", "evidence", f"no evidence checkpoint was signed: {at}{report.reason} "
            "(run `mall evidence verify`; keep the database and the checkpoints as they are)",
            report.as_dict()))
        return report

    async def _read_checkpoints(self) -> CheckpointLog | ChainReport:
        try:
            lines = await self._checkpoints.read()
        except OSError as exc:
            return ChainReport(False, 0, None, f"the checkpoints could not be read ({exc}); "
                               "fix the checkpoint store and verify again")
        return read_checkpoints(lines, self._keys)

    async def _head(self) -> LedgerHead:
        async with self._uow(read_only=True) as uow:
            return await uow.evidence.head()

    async def _walk(self, verifier: ChainVerifier, after: int, head: LedgerHead,
                    page: int) -> ChainReport:
        """Feed the records after `after` up to the head (later ones were appended after the
        head was read) to `verifier`, telling `progress` after each page."""
        start = after
        while after < head.seq:
            limit = min(page, head.seq - after)
            async with self._uow(read_only=True) as uow:
                records = await uow.evidence.chain(after, limit)
            for record in records:
                if not verifier.check(record):
                    return verifier.finish(head)
            if len(records) < limit:
                break
            after = records[-1].seq
            self.on_progress(after - start, head.seq - start)
        self.on_progress(head.seq - start, head.seq - start)
        return verifier.finish(head)

    async def _anchor(self, head: LedgerHead, report: ChainReport) -> ChainReport:
        """Sign and keep a checkpoint of a head just verified, unless one vouches for it."""
        if head.seq == 0 or report.anchored_seq >= head.seq:
            return report
        checkpoint = self._keys.sign(head, self._clock.now())
        try:
            await self._checkpoints.append(checkpoint)
        except OSError as exc:
            log.error("evidence checkpoint could not be written: %s", exc)
            return ChainReport(False, report.checked, None,
                               f"the chain verifies, but its checkpoint could not be written "
                               f"({exc}); fix the checkpoint store and verify again",
                               None, head.seq, report.anchored_seq)
        log.info("evidence checkpoint %s", checkpoint.to_line())
        return ChainReport(True, report.checked, head_seq=head.seq, anchored_seq=head.seq)

    @staticmethod
    async def _sealed_about(uow: UnitOfWork, subject: str) -> list[LedgerEntry]:
        """The records about `subject` as they are now, those found pending sealed on the
        spot, so that each carries its place in the chain."""
        records = await uow.evidence.of_subject(subject, 5000)
        pending = [record for record in records if isinstance(record, PendingEvidence)]
        if not pending:
            return records
        return [*records[:-len(pending)], *await uow.evidence.sealed(pending)]

    async def order_timeline(self, order_id: str) -> dict[str, Any]:
        """An order, its payments with the provider's facts, its shipments with their
        history, and every evidence record about it (sealed first)."""
        async with self._uow() as uow:
            order = await uow.orders.get(order_id)
            if order is None:
                raise NotFound(f"order {order_id} not found")
            payments = await uow.payments.of_order(order_id)
            shipments = await uow.shipments.of_order(order_id)
            records = await self._sealed_about(uow, f"order:{order_id}")
            await uow.commit()
        return {"order": order_view(order), "payments": [payment_view(p) for p in payments],
                "shipments": [{**shipment_view(s), "history": s.history} for s in shipments],
                "evidence": [record.as_dict() for record in records]}

    async def dispute_bundle(self, order_id: str, generated_by: str) -> dict[str, Any]:
        """One JSON document for a chargeback answer or an audit: the order, its payments
        with the provider's facts, its shipments, and every evidence record about it with its
        provenance and hash, plus the verification of the chain the records belong to."""
        bundle: dict[str, Any] = await self.order_timeline(order_id)
        bundle["chain"] = (await self.verify()).as_dict()
        bundle["generated_at"] = self._clock.now().isoformat()
        digest = hashlib.sha256(json.dumps(bundle, sort_keys=True, default=str).encode())
        async with self._uow() as uow:
            await uow.evidence.append(EvidenceDraft(
                source="admin", kind="dispute.bundle_generated", subject=f"order:{order_id}",
                context={"admin_id": generated_by},
                payload={"bundle_sha256": digest.hexdigest(), "records": len(bundle["evidence"])},
            ))
            await uow.commit()
        return bundle
