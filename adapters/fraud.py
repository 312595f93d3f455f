"""An in-house, rule-based fraud screen; every score carries the reasons behind it."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from application.ports import RiskAssessment
from domain.orders import Order


class RuleBasedFraudScreen:
    def __init__(self, review_threshold: float, high_value_minor: dict[str, int]) -> None:
        self._threshold = review_threshold
        self._high_value = high_value_minor

    async def screen(self, order: Order, *, customer_history: Sequence[Order]) -> RiskAssessment:
        score, reasons = 0.0, []
        others = [o for o in customer_history if o.id != order.id and o.currency == order.currency]
        high_value = self._high_value.get(order.currency)
        if not others and high_value is not None and order.total.amount >= high_value:
            score += 0.4
            reasons.append("new customer with a high-value first order")
        if others:
            average = sum(o.total.amount for o in others) / len(others)
            if average > 0 and order.total.amount > 5 * average:
                score += 0.3
                reasons.append("amount far above the customer's usual orders")
        if order.created_at is not None:
            recent = [o for o in customer_history if o.created_at is not None
                      and order.created_at - o.created_at < timedelta(hours=1)]
            if len(recent) > 5:
                score += 0.3
                reasons.append(f"{len(recent)} orders within an hour")
        decision = "review" if score >= self._threshold else "approve"
        return RiskAssessment(round(min(score, 1.0), 2), decision, reasons)
