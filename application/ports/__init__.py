"""Ports: what the use cases need from the outside world, as typing.Protocol contracts,
one module per kind of port.

Every adapter (real provider, sandbox, in-memory fake) honours the docstring of its port.
Every name is importable from here as well as from its module.
"""

from __future__ import annotations

from application.ports.evidence import CheckpointStore, EvidenceLedger
from application.ports.identity import (
    AuthorizationRequest,
    CallbackParams,
    IdentityProvider,
    RealNameVerification,
    RealNameVerifier,
    VerifiedIdentity,
)
from application.ports.messaging import (
    Alert,
    AlertSink,
    AnalyticsEvent,
    AnalyticsSink,
    Notification,
    Notifier,
)
from application.ports.payments import (
    FraudScreen,
    PaymentGateway,
    PaymentRequest,
    ProviderCall,
    RiskAssessment,
    RiskSignals,
)
from application.ports.persistence import (
    AuthEvents,
    AuthFlows,
    Consents,
    Customers,
    Evidence,
    FraudReview,
    FraudReviews,
    IdempotencyKeys,
    IdempotencyRecord,
    IdentityLinks,
    Inbox,
    InboxMessage,
    Incidents,
    Notifications,
    Operations,
    Orders,
    Outbox,
    OutboxMessage,
    Payments,
    PendingLinks,
    PrivacyStore,
    RealNames,
    Sessions,
    Shipments,
    UnitOfWork,
    UnitOfWorkFactory,
)
from application.ports.runtime import Clock, PeriodicRuns, TaskQueue
from application.ports.security import DataCipher, PasswordHasher, TokenIssuer
from application.ports.shipping import Carrier, ShipmentRequest
from application.ports.webhooks import InboundEvent

__all__ = [
    "Alert",
    "AlertSink",
    "AnalyticsEvent",
    "AnalyticsSink",
    "AuthEvents",
    "AuthFlows",
    "AuthorizationRequest",
    "CallbackParams",
    "Carrier",
    "CheckpointStore",
    "Clock",
    "Consents",
    "Customers",
    "DataCipher",
    "Evidence",
    "EvidenceLedger",
    "FraudReview",
    "FraudReviews",
    "FraudScreen",
    "IdempotencyKeys",
    "IdempotencyRecord",
    "IdentityLinks",
    "IdentityProvider",
    "InboundEvent",
    "Inbox",
    "InboxMessage",
    "Incidents",
    "Notification",
    "Notifications",
    "Notifier",
    "Operations",
    "Orders",
    "Outbox",
    "OutboxMessage",
    "PasswordHasher",
    "PaymentGateway",
    "PaymentRequest",
    "Payments",
    "PendingLinks",
    "PeriodicRuns",
    "PrivacyStore",
    "ProviderCall",
    "RealNameVerification",
    "RealNameVerifier",
    "RealNames",
    "RiskAssessment",
    "RiskSignals",
    "Sessions",
    "ShipmentRequest",
    "Shipments",
    "TaskQueue",
    "TokenIssuer",
    "UnitOfWork",
    "UnitOfWorkFactory",
    "VerifiedIdentity",
]
