"""What is kept for the record: the evidence ledger and its signed checkpoints, incidents,
the log of notifications sent, and the privacy store (not modelled here)."""

from __future__ import annotations

import copy
from datetime import datetime
from typing import Any

from domain.alerts import AlertedIncident, AlertStatus
from domain.delivery_incidents import KIND, DeliveryIncident
from domain.evidence import (
    GENESIS,
    Checkpoint,
    EvidenceDraft,
    EvidenceRecord,
    LedgerEntry,
    LedgerHead,
    PendingEvidence,
    chain_onto,
)
from domain.redaction import card_safe_id
from domain.shipments import DeliveryProblem
from tests.fakes.breakable import Breakable
from tests.fakes.storage import Repository, as_json


class FakeEvidence(Repository):
    """The ledger as the real one behaves: an append waits unsealed (here in a table of its
    own, numbered in the order it came), and sealing chains the oldest pending records onto
    the head exactly as the real ledger seals them (domain.evidence.seal)."""

    name = "evidence"

    @property
    def _pending(self) -> dict[int, PendingEvidence]:
        return self._unit.table("evidence_pending")

    async def append(self, draft: EvidenceDraft) -> PendingEvidence:
        context, payload, payload_hash = draft.redacted()
        entry = PendingEvidence(draft.source, draft.kind, draft.subject, self._now(),
                                as_json(context), payload_hash, as_json(payload),
                                id=next(self._unit.db.evidence_ids))
        self._pending[entry.id] = entry
        return entry

    async def seal(self, limit: int) -> list[EvidenceRecord]:
        return [record for _, record in self._seal_batch(limit)]

    async def sealed(self, pending: list[PendingEvidence]) -> list[EvidenceRecord]:
        self._seal_batch(len(self._pending))
        seqs = self._unit.table("evidence_seq_of")
        return [self._rows[seqs[entry.id]] for entry in sorted(pending, key=lambda e: e.id)]

    def _seal_batch(self, limit: int) -> list[tuple[int, EvidenceRecord]]:
        pending = [self._pending[key] for key in sorted(self._pending)[:limit]]
        sealed = chain_onto(self._head(), pending)
        for entry, record in zip(pending, sealed, strict=True):
            del self._pending[entry.id]
            self._rows[record.seq] = record
            self._unit.table("evidence_seq_of")[entry.id] = record.seq  # the row keeps its id
        return [(entry.id, record) for entry, record in zip(pending, sealed, strict=True)]

    async def of_subject(self, subject: str, limit: int) -> list[LedgerEntry]:
        entries = [*await self.chain(0, 10**9), *(e for _, e in sorted(self._pending.items()))]
        return [e for e in entries if e.subject == subject][:limit]

    async def chain(self, after_seq: int, limit: int) -> list[EvidenceRecord]:
        return [r for _, r in sorted(self._rows.items()) if r.seq > after_seq][:limit]

    async def head(self) -> LedgerHead:
        return self._head()

    def _head(self) -> LedgerHead:
        if not self._rows:
            return LedgerHead(0, GENESIS)  # as the migration seeds it
        last = self._rows[max(self._rows)]
        return LedgerHead(last.seq, last.hash)


class FakeCheckpointStore(Breakable):
    """Signed checkpoints kept in a list, as the append-only file would keep their lines."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    async def append(self, checkpoint: Checkpoint) -> None:
        self._record(self.lines, checkpoint.to_line())

    async def read(self) -> list[str]:
        self._fail_if_told()
        return list(self.lines)


class FakeIncidents(Repository):
    name = "incidents"

    async def open(self, kind: str, subject: str, detail: dict[str, Any]) -> str:
        incident_id = card_safe_id("inc")
        self._rows[incident_id] = {"id": incident_id, "kind": kind, "subject": subject,
                                   "detail": as_json(detail), "status": "open",
                                   "opened_at": self._now().isoformat()}
        return incident_id

    async def of_subject(self, subject: str) -> list[dict[str, Any]]:
        return [{k: i[k] for k in ("id", "kind", "opened_at", "status")}
                for i in self._all() if i["subject"] == subject]

    # A delivery incident is a row like the others (kind, subject, detail, status) that also
    # keeps the aggregate, as the real table keeps it in columns of its own.
    async def open_delivery(self, *, order_id: str, shipment_id: str, seller_id: str,
                            problem: DeliveryProblem, reason: str) -> DeliveryIncident:
        incident = DeliveryIncident.open(
            card_safe_id("inc"), order_id=order_id, shipment_id=shipment_id,
            seller_id=seller_id, problem=problem, reason=reason, now=self._now())
        await self.save_delivery(incident)
        return incident

    async def save_delivery(self, incident: DeliveryIncident) -> None:
        self._put(incident.id, {
            "id": incident.id, "kind": KIND, "subject": f"order:{incident.order_id}",
            "detail": as_json({"order_id": incident.order_id,
                               "shipment_id": incident.shipment_id,
                               "seller_id": incident.seller_id, "reason": incident.reason,
                               "steps": incident.steps}),
            "status": incident.status.value, "opened_at": incident.opened_at.isoformat(),
            "incident": incident})

    def _deliveries(self) -> list[DeliveryIncident]:
        return [row["incident"] for row in self._all() if "incident" in row]

    async def delivery(self, incident_id: str) -> DeliveryIncident | None:
        return next((i for i in self._deliveries() if i.id == incident_id), None)

    async def deliveries_of_order(self, order_id: str) -> list[DeliveryIncident]:
        return sorted((i for i in self._deliveries() if i.order_id == order_id),
                      key=lambda i: i.opened_at)

    async def unresolved_deliveries(self, moved_by: datetime, limit: int,
                                    statuses: list[str]) -> list[DeliveryIncident]:
        found = [i for i in self._deliveries()
                 if i.status.value in statuses and i.updated_at <= moved_by]
        return sorted(found, key=lambda i: i.updated_at)[:limit]


    # Alerted incidents: what the incident_alert table keeps, in a table of its own.
    @property
    def _alerts(self) -> dict[str, AlertedIncident]:
        return self._unit.table("incident_alerts")

    async def alerted(self, incident_id: str, severity: str, source: str,
                      summary: str) -> None:
        row = self._get(incident_id)
        self._alerts[incident_id] = AlertedIncident(
            incident_id, row["kind"], row["subject"], severity, source, summary,
            AlertStatus.OPEN, self._now())

    def _alerted(self, row: dict[str, Any] | None) -> AlertedIncident | None:
        if row is None or row["kind"] == KIND:
            return None
        kept = self._alerts.get(row["id"])
        if kept is not None:
            return copy.deepcopy(kept)
        status = row["status"] if row["status"] in {s.value for s in AlertStatus} else "open"
        return AlertedIncident(row["id"], row["kind"], row["subject"], "", row["kind"], "",
                               AlertStatus(status), datetime.fromisoformat(row["opened_at"]))

    async def alerted_incident(self, incident_id: str) -> AlertedIncident | None:
        return self._alerted(self._get(incident_id))

    async def save_alerted(self, incident: AlertedIncident) -> None:
        self._put(incident.id, {**self._get(incident.id), "status": incident.status.value})
        if incident.id in self._alerts:
            self._alerts[incident.id] = copy.deepcopy(incident)

    async def alerted_incidents(self, statuses: list[str], limit: int) -> list[AlertedIncident]:
        found = [i for i in map(self._alerted, self._all())
                 if i is not None and i.status.value in statuses]
        return sorted(found, key=lambda i: i.opened_at, reverse=True)[:limit]

    async def unacknowledged(self, opened_by: datetime, limit: int) -> list[AlertedIncident]:
        found = [copy.deepcopy(i) for i in self._alerts.values()
                 if i.status == AlertStatus.OPEN and i.escalated_at is None
                 and i.opened_at <= opened_by]
        return sorted(found, key=lambda i: i.opened_at)[:limit]


class FakeNotifications(Repository):
    name = "notifications"

    async def log(self, customer_id: str, channel: str, template: str, subject: str) -> None:
        self._append({"customer_id": customer_id, "channel": channel, "template": template,
                      "subject": subject, "sent_at": self._now().isoformat()})


class FakePrivacyStore(Repository):
    """Erasure, export and retention reach into every table: those use cases are tested on
    the real databases (tests/e2e/test_privacy.py), not here."""

    name = "privacy"

    def _not_here(self, what: str) -> Any:
        raise NotImplementedError(f"PrivacyStore.{what} is tested against the real databases "
                                  "(tests/e2e/test_privacy.py); the fake does not model it")

    async def export(self, customer_id: str) -> dict[str, Any]:
        return self._not_here("export")  # type: ignore[no-any-return]

    async def erase(self, customer_id: str, pseudonym: str) -> dict[str, int]:
        return self._not_here("erase")  # type: ignore[no-any-return]

    async def merge(self, from_customer: str, to_customer: str) -> dict[str, int]:
        return self._not_here("merge")  # type: ignore[no-any-return]

    async def keep(self, record_class: str, subject: str, jurisdiction: str,
                   payload: dict[str, Any], retain_until: datetime) -> None:
        self._not_here("keep")

    async def retained(self, subject: str) -> list[dict[str, Any]]:
        return self._not_here("retained")  # type: ignore[no-any-return]

    async def purge_retained(self, now: datetime) -> int:
        return 0

    async def purge_access_logs(self, jurisdiction: str, before: datetime) -> int:
        return 0

    async def purge_sign_in_leftovers(self, before: datetime) -> int:
        return await self._unit.sign_ins.flows.purge(before)

    async def purge_finished_work(self, before: datetime) -> int:
        return 0
