"""Catching up with the providers: ask about payments stuck before a final answer, and
cancel the attempts a customer abandoned."""

from __future__ import annotations

from datetime import datetime, timedelta

from application.payments.core import PaymentServiceBase
from application.payments.settle import apply_payment_update
from application.transactions import commit_and_dispatch, send
from domain.commands import VoidPayment
from domain.errors import ProviderUnavailable
from domain.failures import FailureReason
from domain.payments import CancellationReason, EventType, Payment, PaymentStatus, PaymentUpdate


class Reconciliation(PaymentServiceBase):
    async def lookup(self, payment_id: str) -> bool:
        """Ask the provider where a payment stands and apply the answer (reconciliation)."""
        async with self._uow(read_only=True) as uow:
            payment = await uow.payments.get(payment_id)
        if payment is None or not payment.provider_reference:
            return False
        update = await self._gateways[payment.provider].lookup(payment.provider_reference)
        return await self.apply_update(payment_id, update)

    async def reconcile(self, older_than: timedelta, limit: int = 200) -> dict[str, int]:
        """Ask the providers about payments stuck before a final answer, so a lost webhook
        loses nothing. Provider failures are counted and left for the next run."""
        async with self._uow(read_only=True) as uow:
            stuck = await uow.payments.unsettled(self._clock.now() - older_than, limit)
        report = {"checked": 0, "changed": 0, "unreachable": 0}
        for payment in stuck:
            if payment.provider not in self._gateways or not payment.provider_reference:
                continue
            report["checked"] += 1
            try:
                report["changed"] += await self.lookup(payment.id)
            except ProviderUnavailable:
                report["unreachable"] += 1
        return report

    async def expire_abandoned(self, action_timeout: timedelta, limit: int = 200) -> int:
        """Cancel attempts the customer abandoned: a virtual account past its deadline (the
        order is cancelled), a 3-D Secure step never finished (the order can be paid again)."""
        now = self._clock.now()
        async with self._uow(read_only=True) as uow:
            waiting = await uow.payments.waiting_on_customer(now - action_timeout, limit)
        expired = 0
        for payment in waiting:
            if payment.status == PaymentStatus.AWAITING_DEPOSIT:
                deadline = (payment.deposit_account or {}).get("expires_at")
                if deadline and datetime.fromisoformat(deadline) > now:
                    continue
                code = FailureReason.DEPOSIT_EXPIRED
            else:
                code = FailureReason.AUTHENTICATION_ABANDONED
            expired += await self._expire(payment, code)
        return expired

    async def _expire(self, payment: Payment, code: FailureReason) -> bool:
        """Cancel an abandoned attempt here, and at the provider so that a late 3-D Secure
        or deposit cannot take money for it (if one does, it is given back)."""
        async with self._uow() as uow:
            changed = await apply_payment_update(
                uow, payment.id, PaymentUpdate.of(EventType.CANCELLED, failure_code=code.value),
                self._clock)
            if changed and payment.provider_reference:
                await send(uow, VoidPayment(payment.id, CancellationReason.ABANDONED.value))
            await commit_and_dispatch(uow, self._queue)
        return changed
