"""Commands that move money at a provider, and what is settled when one never succeeds."""

from __future__ import annotations

from typing import Protocol

from domain.commands import AuthorizePayment, CapturePayment, RefundPayment, VoidPayment
from domain.errors import ProviderUnavailable


class PaymentService(Protocol):
    """What these handlers ask of the payments use cases (application/payments/)."""

    async def authorize(self, payment_id: str, operation_id: str, method_token: str) -> None: ...
    async def capture(self, payment_id: str) -> None: ...
    async def void(self, payment_id: str, reason: str = "") -> None: ...
    async def refund(self, payment_id: str, refund_id: str, amount: int, reason: str) -> None: ...
    async def give_up(self, payment_id: str, reason: str) -> None: ...
    async def refund_failed(self, payment_id: str, refund_id: str) -> None: ...
    async def refund_unconfirmed(self, payment_id: str, refund_id: str) -> None: ...


async def authorize_payment(command: AuthorizePayment, payments: PaymentService) -> None:
    await payments.authorize(command.payment_id, command.operation_id, command.method_token)


async def capture_payment(command: CapturePayment, payments: PaymentService) -> None:
    await payments.capture(command.payment_id)


async def void_payment(command: VoidPayment, payments: PaymentService) -> None:
    await payments.void(command.payment_id, command.reason)


async def refund_payment(command: RefundPayment, payments: PaymentService) -> None:
    await payments.refund(command.payment_id, command.refund_id, command.amount,
                          command.reason)


async def authorization_given_up(command: AuthorizePayment, error: Exception,
                                 payments: PaymentService) -> None:
    await payments.give_up(command.payment_id, type(error).__name__)


async def refund_given_up(command: RefundPayment, error: Exception,
                          payments: PaymentService) -> None:
    if isinstance(error, ProviderUnavailable) and not error.request_sent:
        # The provider never got it: free the reserved amount for another try.
        await payments.refund_failed(command.payment_id, command.refund_id)
    else:
        # It may have been paid out: the amount stays reserved (a second refund could pay
        # twice) until a human checks with the provider.
        await payments.refund_unconfirmed(command.payment_id, command.refund_id)
