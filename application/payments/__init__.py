"""Paying for an order: route to a provider, screen for fraud, authorize in the background,
and follow every later move of the gateway (capture, refunds, disputes) on payment and order.

Each capability has its module; `PaymentService` is the one object the composition root
builds and the bus handlers, routes and actors call."""

from __future__ import annotations

from application.payments.checkout import StartingPayments
from application.payments.provider_calls import ProviderCalls
from application.payments.reconciliation import Reconciliation
from application.payments.refunds import Refunds
from application.payments.review import FraudReviews


class PaymentService(StartingPayments, ProviderCalls, Reconciliation, FraudReviews, Refunds):
    """The payments use cases, one capability per base class."""


__all__ = ["PaymentService"]
