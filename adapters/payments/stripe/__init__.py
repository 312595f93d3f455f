"""Stripe as a payment gateway: PaymentIntents, refunds and disputes over its REST API.

Every request pins `Stripe-Version` to the API version of the OpenAPI description the adapter
was written and checked against, so an upgrade of the account's default version cannot change
the shapes it reads. Every POST carries our idempotency key: Stripe then acts once per key and
answers a repeat with the first answer, which makes retries and re-deliveries harmless.

`gateway` holds the client and its webhooks; `translation` reads Stripe's objects as our facts.
"""

from __future__ import annotations

from adapters.payments.stripe.gateway import STRIPE_VERSION, StripeGateway
from adapters.payments.stripe.translation import (
    _DISPUTE_WEBHOOKS,
    _INTENT_WEBHOOKS,
    dispute_facts,
    failure_reason,
    intent_facts,
    refunded_of_captured,
)

__all__ = [
    "STRIPE_VERSION",
    "_DISPUTE_WEBHOOKS",
    "_INTENT_WEBHOOKS",
    "StripeGateway",
    "dispute_facts",
    "failure_reason",
    "intent_facts",
    "refunded_of_captured",
]
