"""The FraudScreen port, approving unless told otherwise."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field

from application.ports import RiskAssessment, RiskSignals
from domain.orders import Order


@dataclass
class FakeFraudScreen:
    """Approves everything unless told otherwise (`decision`, `score`)."""

    decision: str = "approve"
    score: float = 0.1
    reasons: list[str] = field(default_factory=list)
    screened: list[tuple[Order, RiskSignals]] = field(default_factory=list)
    learned: list[Sequence[tuple[str, int]]] = field(default_factory=list)
    learning: asyncio.Event | None = None  # when given, a refit waits until it is set
    refit_fails: bool = False

    async def screen(self, order: Order, signals: RiskSignals) -> RiskAssessment:
        self.screened.append((order, signals))
        return RiskAssessment(self.score, self.decision, list(self.reasons))

    async def learn(self, paid_totals: Sequence[tuple[str, int]]) -> None:
        if self.learning is not None:
            await self.learning.wait()
        if self.refit_fails:
            raise ConnectionError("the model's store is unreachable")
        self.learned.append(list(paid_totals))
