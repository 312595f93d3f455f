"""What every part of the payments use cases shares: their dependencies, and applying a
provider's answer in a transaction of its own."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from application.payments.settle import apply_payment_update
from application.ports import (
    Clock,
    FraudScreen,
    OperationWatch,
    PaymentGateway,
    TaskQueue,
    UnitOfWork,
    UnitOfWorkFactory,
)
from application.transactions import commit_and_dispatch
from domain.errors import DomainError, NotFound
from domain.orders import Order
from domain.payments import Payment, PaymentUpdate
from domain.routing import ProviderContract, eligible_providers


@dataclass(frozen=True)
class KycRule:
    """Above `threshold` (minor units of `currency`) an order shipped to `country` needs a
    customer whose identity was verified."""

    country: str
    currency: str
    threshold: int


class PaymentServiceBase:
    """The dependencies of the payments use cases; each capability is a subclass."""

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        gateways: Mapping[str, PaymentGateway],
        contracts: Sequence[ProviderContract],
        fraud: FraudScreen,
        clock: Clock,
        queue: TaskQueue,
        watch: OperationWatch,
        pseudonym_key: bytes,
        sync_wait_seconds: float,
        slow_after_seconds: float,
        kyc_rules: Sequence[KycRule] = (),
        fraud_model_max_age: timedelta = timedelta(hours=1),
    ) -> None:
        self._uow, self._gateways, self._contracts = uow, gateways, contracts
        self._fraud, self._clock, self._queue = fraud, clock, queue
        self._key = pseudonym_key
        self._watch = watch
        self._sync_wait, self._slow_after = sync_wait_seconds, slow_after_seconds
        self._kyc = list(kyc_rules)
        self._model_max_age = fraud_model_max_age
        self._model_fitted_at: datetime | None = None
        self._refit: asyncio.Task[None] | None = None  # a refit running beside the requests

    async def _alternatives(self, order: Order, method: str, failing: str) -> list[str]:
        """The other configured gateways that may take this payment and are up."""
        try:
            routes = eligible_providers(self._contracts, country=order.country,
                                        currency=order.currency, method=method)
        except DomainError:
            return []
        return [p for p in routes if p in self._gateways and p != failing
                and await self._gateways[p].available()]

    async def apply_update(self, payment_id: str, update: PaymentUpdate,
                           extra_result: dict[str, Any] | None = None) -> bool:
        async with self._uow() as uow:
            changed = await apply_payment_update(uow, payment_id, update, self._clock,
                                                 extra_result)
            await commit_and_dispatch(uow, self._queue)
        return changed

    async def find_for_event(self, uow: UnitOfWork, provider: str, reference: str,
                             update: PaymentUpdate) -> Payment:
        payment = await uow.payments.for_event(provider, reference,
                                               update.merchant_reference or "")
        if payment is None:
            raise NotFound(f"no payment with {provider} reference {reference}")
        return payment

