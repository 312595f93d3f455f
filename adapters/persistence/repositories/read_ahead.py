"""Rows a unit of work read together with others, kept for its next read of them.

Reading an order's payments brings the order's shipments and each payment's operation in
the same statement: settling a payment reads all three, one after the other. On SQLite the
lock of an order by one of its payments brings its payments in the same trip, and the fraud
screen's record the customer's newest orders.
What was read ahead is given out once, then read again as usual. Locking an order forgets
it all: rows read before a lock are not what the lock holder may trust.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class ReadAhead:
    shipments: dict[str, list[Any]] = field(default_factory=dict)  # by order id
    operations: dict[str, Any] = field(default_factory=dict)  # by subject; None: none
    # An order's payment rows read with its lock on SQLite (payments.OF_ORDER_PAID_BY_HERE)
    payments: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # by order id
    # A customer's newest orders read with the fraud screen's record on SQLite: how many were
    # asked for, and their rows (reviews.HISTORY_HERE)
    customer_orders: dict[str, tuple[int, list[dict[str, Any]]]] = field(default_factory=dict)

    def forget(self) -> None:
        self.shipments.clear()
        self.operations.clear()
        self.payments.clear()
        self.customer_orders.clear()

    def keep_payments(self, rows: list[dict[str, Any]]) -> None:
        if rows:
            self.payments[rows[0]["order_id"]] = rows

    def operation_by_id(self, operation_id: str) -> Any:
        """The operation row read ahead under this id, given out once (None: not read)."""
        for subject, row in self.operations.items():
            if row is not None and row["id"] == operation_id:
                del self.operations[subject]
                return row
        return None
