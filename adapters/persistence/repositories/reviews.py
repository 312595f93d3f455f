"""Fraud reviews held for a person's decision."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from adapters.persistence import raw
from adapters.persistence import tables as t
from adapters.persistence.repositories._rows import _at, _dump
from adapters.persistence.repositories.read_ahead import ReadAhead
from application.ports import FraudReview
from application.ports.persistence import ScreeningRecord

# The review (if any) and both failure counts in one statement, each on its index.
SCREENING = """
SELECT r.*,
       (SELECT count(*) FROM login_failure
         WHERE customer_id = $2 AND at >= $3) AS failed_logins,
       (SELECT count(*) FROM payment
         WHERE customer_id = $2 AND status = 'failed' AND created_at >= $3) AS failed_payments
FROM (VALUES (1)) AS one LEFT JOIN fraud_review r ON r.order_id = $1
"""
SCREENING_HERE = SCREENING.replace("$", "?")  # SQLite: ?n is $n
# The customer's newest orders, which the screen reads next (its history): on SQLite in the
# same trip, kept for orders.of_customer. As many as the payment service's screen asks for.
HISTORY_HERE = "SELECT * FROM orders WHERE customer_id = ? ORDER BY created_at DESC LIMIT ?"
HISTORY_AHEAD = 200


class FraudReviewRepository:
    def __init__(self, read_ahead: ReadAhead | None = None) -> None:
        self._read_ahead = ReadAhead() if read_ahead is None else read_ahead

    @staticmethod
    def _from(row: dict[str, Any]) -> FraudReview:
        return FraudReview(
            order_id=row["order_id"], customer_id=row["customer_id"], score=row["score"],
            reasons=json.loads(row["reasons"]), status=row["status"],
            opened_at=_at(row["opened_at"]),
            decided_at=_at(row["decided_at"]), decided_by=row["decided_by"], note=row["note"])

    async def add(self, review: FraudReview) -> None:
        await t.FraudReview.insert(t.FraudReview(
            order_id=review.order_id, customer_id=review.customer_id, score=review.score,
            reasons=_dump(review.reasons), status=review.status,
            opened_at=review.opened_at, note=review.note,
        )).on_conflict(target=t.FraudReview.order_id, action="DO NOTHING")

    async def get(self, order_id: str) -> FraudReview | None:
        row = await t.FraudReview.select().where(t.FraudReview.order_id == order_id).first()
        return self._from(row) if row else None

    async def screening(self, order_id: str, customer_id: str,
                        since: datetime) -> ScreeningRecord:
        if raw.on_postgres():
            [row] = await raw.fetch(SCREENING, order_id, customer_id, since)
        else:
            def keep(rows: list[dict[str, Any]]) -> None:
                self._read_ahead.customer_orders[customer_id] = (HISTORY_AHEAD, rows)

            await raw.read_later(HISTORY_HERE, customer_id, HISTORY_AHEAD, then=keep)
            [row] = await raw.fetch_here(SCREENING_HERE, order_id, customer_id, since)
        return ScreeningRecord(self._from(row) if row["order_id"] else None,
                               int(row["failed_logins"]), int(row["failed_payments"]))

    async def save(self, review: FraudReview) -> None:
        await t.FraudReview.update({
            t.FraudReview.status: review.status, t.FraudReview.decided_at: review.decided_at,
            t.FraudReview.decided_by: review.decided_by, t.FraudReview.note: review.note,
        }).where(t.FraudReview.order_id == review.order_id)

    async def pending(self, limit: int) -> list[FraudReview]:
        rows = await t.FraudReview.select().where(t.FraudReview.status == "pending").order_by(
            t.FraudReview.opened_at).limit(limit)
        return [self._from(row) for row in rows]
