"""Toss Payments (api.tosspayments.com, v1 API, Payment object version 2022-11-16).

The storefront opens Toss's payment widget with orderId = our order id (it knows no payment id
before it calls us; Toss accepts the same orderId again until one payment for it is approved).
Once the customer has authenticated there, the browser brings back a paymentKey, and
`authorize` confirms it (POST /v1/payments/confirm). Virtual accounts are issued from the
server instead (POST /v1/virtual-accounts), under orderId = our payment id. Toss has no
separate capture: a confirmed payment is paid, and every later movement is a cancel (full or
partial) of it.

Toss's payment webhooks are not signed. A DEPOSIT_CALLBACK carries the per-payment `secret`
Toss returned when it issued the virtual account; the application keeps its hash and compares.
A PAYMENT_STATUS_CHANGED is only a hint to ask Toss for the payment.

Refunds of a virtual account that was paid must name the account the money goes back to
(`refundReceiveAccount`): pass it as `refund_account={"bank", "account_number", "holder"}`
to `refund` or `cancel`. Without it Toss refuses, and the refusal is a REFUND_FAILED update.

`gateway` holds the client and its webhooks; `translation` reads Toss's objects as our facts.
"""

from __future__ import annotations

from adapters.payments.toss.gateway import TossGateway, basic_authorization
from adapters.payments.toss.translation import (
    TRANSIENT_CODES,
    cancel_reason,
    failure_reason_of,
    payment_update,
)

__all__ = [
    "TRANSIENT_CODES",
    "TossGateway",
    "basic_authorization",
    "cancel_reason",
    "failure_reason_of",
    "payment_update",
]
