"""The figures operators watch that live in the database: backlogs and the age of their
oldest message, operations still running past the slow mark, open incidents by kind, the
evidence chain's length and what is waiting to be sealed. One statement each, read only."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from piccolo.query.functions.aggregate import Count, Min

from adapters.persistence import tables as t

Samples = list[tuple[dict[str, str], float]]

HELP = {
    "mall_outbox_messages": "Outbox messages by status (pending, processing, dead)",
    "mall_outbox_oldest_pending_age_seconds": "Age of the oldest outbox message not done yet",
    "mall_inbox_messages": "Provider callbacks kept in the inbox by status",
    "mall_inbox_oldest_unprocessed_age_seconds": "Age of the oldest callback not applied yet",
    "mall_operations_slow": "Operations still running past the slow mark (the customer was "
                            "told processing continues)",
    "mall_incidents_open": "Incidents not resolved, by kind",
    "mall_evidence_chain_length": "Evidence records sealed into the hash chain",
    "mall_evidence_pending": "Evidence records appended and not sealed yet",
    "mall_evidence_last_checkpoint_seq": "The last record a signed checkpoint vouches for",
}
UNFINISHED_OUTBOX = ("pending", "processing", "dead")
UNPROCESSED_INBOX = ("received", "processing")


def _age(now: datetime, oldest: Any) -> float:
    return max(0.0, (now - oldest).total_seconds()) if isinstance(oldest, datetime) else 0.0


async def database_figures(now: datetime, slow_after: timedelta,
                           checkpoint_seq: int) -> dict[str, Samples]:
    outbox = await t.OutboxMessage.select(
        t.OutboxMessage.status, Count(alias="n"), Min(t.OutboxMessage.created_at, alias="oldest")
    ).where(t.OutboxMessage.status.is_in(list(UNFINISHED_OUTBOX))).group_by(
        t.OutboxMessage.status)
    inbox = await t.InboxMessage.select(
        t.InboxMessage.status, Count(alias="n"), Min(t.InboxMessage.received_at, alias="oldest")
    ).group_by(t.InboxMessage.status)
    slow = await t.Operation.count().where(
        t.Operation.status.is_in(["pending", "processing"])
        & (t.Operation.created_at < now - slow_after))
    incidents = await t.Incident.select(t.Incident.kind, Count(alias="n")).where(
        t.Incident.status != "resolved").group_by(t.Incident.kind)
    head = await t.EvidenceHead.select(t.EvidenceHead.seq).first()
    pending = await t.EvidenceRecord.count().where(t.EvidenceRecord.seq.is_null())
    waiting = [row for row in outbox if row["status"] != "dead"]
    unprocessed = [row for row in inbox if row["status"] in UNPROCESSED_INBOX]
    return {
        "mall_outbox_messages": [({"status": s}, float(next(
            (row["n"] for row in outbox if row["status"] == s), 0))) for s in UNFINISHED_OUTBOX],
        "mall_outbox_oldest_pending_age_seconds": [({}, max(
            (_age(now, row["oldest"]) for row in waiting), default=0.0))],
        "mall_inbox_messages": [({"status": row["status"]}, float(row["n"])) for row in inbox],
        "mall_inbox_oldest_unprocessed_age_seconds": [({}, max(
            (_age(now, row["oldest"]) for row in unprocessed), default=0.0))],
        "mall_operations_slow": [({}, float(slow))],
        "mall_incidents_open": [({"kind": row["kind"]}, float(row["n"])) for row in incidents],
        "mall_evidence_chain_length": [({}, float(head["seq"] if head else 0))],
        "mall_evidence_pending": [({}, float(pending))],
        "mall_evidence_last_checkpoint_seq": [({}, float(checkpoint_seq))],
    }
