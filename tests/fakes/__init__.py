"""In-memory fakes of every port the use cases depend on, for tests that run without I/O.

`FakeDatabase` holds committed rows; `FakeUnitOfWorkFactory` opens units of work on it that
behave as the real one does (adapters/persistence/uow.py): one writer at a time, reads see
the unit's own writes, changes are kept only on `commit()`, and leaving without it rolls
back. Repositories hand out copies, as rows read from a table would be, so a change counts
only once it is saved. The provider fakes record what they were asked and answer as scripted.

One module per group of ports; every name is re-exported here, so `from tests.fakes import X`
is all a test needs.
"""

from tests.fakes.clock import START, FakeClock
from tests.fakes.commerce import (
    FakeCustomers,
    FakeFraudReviews,
    FakeOrders,
    FakePayments,
    FakeShipments,
)
from tests.fakes.gateways import (
    DECLINED,
    DEPOSIT,
    NO_ANSWER,
    SIGNATURE,
    THREE_DS,
    UNREACHABLE,
    FakeCarrier,
    FakeGateway,
    sign,
)
from tests.fakes.identity_providers import (
    FakeIdentityProvider,
    FakePasswordHasher,
    FakeRealNameVerifier,
)
from tests.fakes.identity_store import (
    FakeAuthEvents,
    FakeAuthFlows,
    FakeConsents,
    FakeIdentityLinks,
    FakePendingLinks,
    FakeRealNames,
    FakeSessions,
)
from tests.fakes.messaging import FakeAlerts, FakeAnalytics, FakeNotifier, FakeTaskQueue
from tests.fakes.messaging_store import (
    FakeIdempotencyKeys,
    FakeInbox,
    FakeOperations,
    FakeOutbox,
)
from tests.fakes.records import (
    FakeCheckpointStore,
    FakeEvidence,
    FakeIncidents,
    FakeNotifications,
    FakePrivacyStore,
)
from tests.fakes.risk import FakeFraudScreen
from tests.fakes.storage import FakeDatabase
from tests.fakes.unit_of_work import FakeUnitOfWork, FakeUnitOfWorkFactory

__all__ = [
    "DECLINED", "DEPOSIT", "NO_ANSWER", "SIGNATURE", "START", "THREE_DS", "UNREACHABLE",
    "FakeAlerts", "FakeAnalytics", "FakeAuthEvents", "FakeAuthFlows", "FakeCarrier",
    "FakeCheckpointStore", "FakeClock", "FakeConsents", "FakeCustomers", "FakeDatabase",
    "FakeEvidence", "FakeFraudReviews", "FakeFraudScreen", "FakeGateway",
    "FakeIdempotencyKeys", "FakeIdentityLinks", "FakeIdentityProvider", "FakeInbox",
    "FakeIncidents", "FakeNotifications", "FakeNotifier", "FakeOperations", "FakeOrders",
    "FakeOutbox", "FakePasswordHasher", "FakePayments", "FakePendingLinks",
    "FakePrivacyStore", "FakeRealNameVerifier", "FakeRealNames", "FakeSessions",
    "FakeShipments", "FakeTaskQueue", "FakeUnitOfWork", "FakeUnitOfWorkFactory", "sign",
]
