"""Repositories: domain objects in and out of piccolo tables, one module per aggregate."""

from __future__ import annotations

from adapters.persistence.repositories.customers import CustomerRepository
from adapters.persistence.repositories.evidence import EvidenceRepository
from adapters.persistence.repositories.identity import (
    AuthEventRepository,
    AuthFlowRepository,
    ConsentRepository,
    IdentityLinkRepository,
    PendingLinkRepository,
    RealNameRepository,
    SessionRepository,
)
from adapters.persistence.repositories.incidents import IncidentRepository, NotificationRepository
from adapters.persistence.repositories.messaging import (
    IdempotencyRepository,
    InboxRepository,
    OutboxRepository,
)
from adapters.persistence.repositories.operations import OperationRepository
from adapters.persistence.repositories.orders import OrderRepository
from adapters.persistence.repositories.payments import PaymentRepository
from adapters.persistence.repositories.privacy import ERASED, PrivacyRepository
from adapters.persistence.repositories.reviews import FraudReviewRepository
from adapters.persistence.repositories.shipments import ShipmentRepository

__all__ = [
    "ERASED",
    "AuthEventRepository",
    "AuthFlowRepository",
    "ConsentRepository",
    "CustomerRepository",
    "EvidenceRepository",
    "FraudReviewRepository",
    "IdempotencyRepository",
    "IdentityLinkRepository",
    "InboxRepository",
    "IncidentRepository",
    "NotificationRepository",
    "OperationRepository",
    "OrderRepository",
    "OutboxRepository",
    "PaymentRepository",
    "PendingLinkRepository",
    "PrivacyRepository",
    "RealNameRepository",
    "SessionRepository",
    "ShipmentRepository",
]
