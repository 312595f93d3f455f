"""Reading and verifying the evidence ledger (audits, disputes)."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from application.ordering import order_view
from application.payments import payment_view
from application.ports import Clock, UnitOfWorkFactory
from domain.errors import NotFound
from domain.evidence import ChainReport, ChainVerifier, EvidenceDraft


class EvidenceService:
    def __init__(self, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow, self._clock = uow, clock

    async def of_subject(self, subject: str, limit: int = 500) -> list[dict[str, Any]]:
        async with self._uow() as uow:
            records = await uow.evidence.of_subject(subject, limit)
        return [record.as_dict() for record in records]

    async def verify(self, page: int = 1000) -> ChainReport:
        """Verify the whole chain, a page at a time."""
        verifier, after = ChainVerifier(), 0
        while True:
            async with self._uow() as uow:
                records = await uow.evidence.chain(after, page)
            for record in records:
                if not verifier.check(record):
                    return verifier.report
            if len(records) < page:
                return verifier.report
            after = records[-1].seq

    async def dispute_bundle(self, order_id: str, generated_by: str) -> dict[str, Any]:
        """One JSON document for a chargeback answer or an audit: the order, its payments
        with the provider's facts, its shipments, and every evidence record about it with its
        provenance and hash, plus the verification of the chain the records belong to."""
        async with self._uow() as uow:
            order = await uow.orders.get(order_id)
            if order is None:
                raise NotFound(f"order {order_id} not found")
            payments = await uow.payments.of_order(order_id)
            shipments = await uow.shipments.of_order(order_id)
            records = await uow.evidence.of_subject(f"order:{order_id}", 5000)
        chain = await self.verify()
        bundle: dict[str, Any] = {
            "order": order_view(order),
            "payments": [payment_view(p) for p in payments],
            "shipments": [{"id": s.id, "seller_id": s.seller_id, "carrier": s.carrier,
                           "status": s.status.value, "tracking_number": s.tracking_number,
                           "history": s.history} for s in shipments],
            "evidence": [record.as_dict() for record in records],
            "chain": chain.as_dict(),
            "generated_at": self._clock.now().isoformat(),
        }
        digest = hashlib.sha256(json.dumps(bundle, sort_keys=True, default=str).encode())
        async with self._uow() as uow:
            await uow.evidence.append(EvidenceDraft(
                source="admin", kind="dispute.bundle_generated", subject=f"order:{order_id}",
                context={"admin_id": generated_by},
                payload={"bundle_sha256": digest.hexdigest(), "records": len(records)},
            ))
            await uow.commit()
        return bundle
