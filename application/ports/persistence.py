"""The database: one repository per aggregate (the customer's parts reached through the
customer's), the stores of sign-in and of messages, and the unit of work that holds them in
one transaction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from application.ports.identity_store import (
    AuthEvents as AuthEvents,
)
from application.ports.identity_store import (
    AuthFlows as AuthFlows,
)
from application.ports.identity_store import (
    Consents as Consents,
)
from application.ports.identity_store import (
    IdentityLinks as IdentityLinks,
)
from application.ports.identity_store import (
    PendingLinks as PendingLinks,
)
from application.ports.identity_store import (
    RealNames as RealNames,
)
from application.ports.identity_store import (
    Sessions as Sessions,
)
from application.ports.identity_store import (
    SignIns as SignIns,
)
from application.ports.incidents import AlertedIncidents
from application.ports.message_store import (
    ClaimReaching as ClaimReaching,
)
from application.ports.message_store import (
    Deliveries as Deliveries,
)
from application.ports.message_store import (
    Inbox as Inbox,
)
from application.ports.message_store import (
    InboxMessage as InboxMessage,
)
from application.ports.message_store import (
    Messages as Messages,
)
from application.ports.message_store import (
    Notifications as Notifications,
)
from application.ports.message_store import (
    Outbox as Outbox,
)
from application.ports.message_store import (
    OutboxMessage as OutboxMessage,
)
from application.ports.registry import ProviderContracts
from application.ports.registry import ProviderCredentials as ProviderCredentials
from domain.customers import Customer
from domain.delivery_incidents import DeliveryIncident
from domain.devices import PushDevice
from domain.evidence import (
    EvidenceDraft,
    EvidenceRecord,
    LedgerEntry,
    LedgerHead,
    PendingEvidence,
)
from domain.operations import Operation
from domain.orders import Order
from domain.payments import Payment
from domain.reviews import FraudReview as FraudReview  # the aggregate its port stores
from domain.shipments import DeliveryProblem, Shipment


@dataclass
class IdempotencyRecord:
    customer_id: str
    key: str
    request_hash: str  # sha256 of the canonical JSON body
    status: str  # "in_flight" | "completed"
    response_status: int | None
    response_body: Any
    expires_at: datetime
    request_target: str | None = None  # "POST /v1/orders/ord_1/payments"; None on old rows


class Customers(Protocol):
    async def add(self, customer: Customer) -> bool:
        """Store a new customer; False when the email is taken (even by a concurrent add)."""
        ...

    async def get(self, customer_id: str) -> Customer | None: ...

    async def signed_in(self, customer_id: str, session_id: str) -> Customer | None:
        """The customer, when `session_id` is one of theirs and not revoked; one statement
        for what every signed-in request checks."""
        ...

    async def by_email(self, email: str) -> Customer | None: ...

    async def reachable(self, customer_id: str) -> tuple[Customer, dict[str, bool],
                                                         list[str]] | None:
        """The customer with their consents (purpose: granted) and push device tokens (the
        latest first), in one statement where the engine allows: what a message needs."""
        ...

    async def lock(self, customer_id: str) -> None: ...
    async def save(self, customer: Customer) -> None: ...
    async def set_identity_verified(self, customer_id: str, verified: bool) -> None: ...
    async def record_login_failure(self, customer_id: str, at: datetime) -> None: ...
    async def login_failures_since(self, customer_id: str, since: datetime) -> int: ...

    # The parts of a customer kept in records of their own, reached through the customer's
    # repository: the identities linked to it, its real-name identity, its consents.
    identities: IdentityLinks
    real_names: RealNames
    consents: Consents


class Orders(Protocol):
    async def lock(self, order_id: str) -> Order | None:
        """Hold the order until the unit of work ends (changes to one order go one at a
        time) and read it, in one statement; None when there is no such order."""
        ...

    async def lock_for_payment(self, payment_id: str) -> Order | None:
        """`lock` of the order the payment is for, found in the same statement."""
        ...

    async def add(self, order: Order) -> None: ...
    async def get(self, order_id: str) -> Order | None: ...
    async def save(self, order: Order) -> None: ...
    async def of_customer(
        self, customer_id: str, limit: int, before: str | None = None
    ) -> list[Order]:
        """The customer's orders, newest first; `before` is a created_at to page back from."""
        ...

    async def paid_totals(self, limit: int) -> list[tuple[str, int]]:
        """(currency, total) of the latest orders whose money was taken."""
        ...


class Payments(Protocol):
    async def add(self, payment: Payment) -> None: ...
    async def get(self, payment_id: str) -> Payment | None: ...
    async def by_reference(self, provider: str, reference: str) -> Payment | None: ...

    async def for_event(self, provider: str, reference: str,
                        merchant_reference: str) -> Payment | None:
        """The provider's payment a callback names: by the provider's reference, else by
        our id (`merchant_reference`, a callback that overtook the reference being saved);
        empty ones match nothing. One statement where the engine allows."""
        ...

    async def save(self, payment: Payment) -> None: ...
    async def of_order(self, order_id: str) -> list[Payment]: ...

    async def waiting_on_customer(self, created_before: datetime, limit: int) -> list[Payment]:
        """Payments waiting for the customer (a deposit, a 3-D Secure step), oldest first."""
        ...

    async def unsettled(self, created_before: datetime, limit: int) -> list[Payment]:
        """Payments still waiting for the provider's word, oldest first."""
        ...

    async def failures_of_customer(self, customer_id: str, since: datetime) -> int: ...


class PrivacyStore(Protocol):
    async def export(self, customer_id: str) -> dict[str, Any]: ...

    async def erase(self, customer_id: str, pseudonym: str) -> dict[str, int]:
        """Remove the customer's personal data from every table; rows the business keeps
        (orders, payments) stay under `pseudonym`. Counts per table."""
        ...

    async def merge(self, from_customer: str, to_customer: str) -> dict[str, int]:
        """Move everything of one customer to another and close the first account."""
        ...

    async def keep(self, record_class: str, subject: str, jurisdiction: str,
                   payload: dict[str, Any], retain_until: datetime) -> None: ...
    async def retained(self, subject: str) -> list[dict[str, Any]]: ...
    async def purge_retained(self, now: datetime) -> int: ...
    async def purge_access_logs(self, jurisdiction: str, before: datetime) -> int: ...
    async def purge_sign_in_leftovers(self, before: datetime) -> int: ...
    async def purge_finished_work(self, before: datetime) -> int: ...


@dataclass(frozen=True)
class ScreeningRecord:
    """What the store knows for screening an order, besides the customer's history: the
    order's review, if any, and the customer's failed sign-ins and payments since a moment."""

    review: FraudReview | None
    failed_logins: int
    failed_payments: int


class FraudReviews(Protocol):
    async def add(self, review: FraudReview) -> None: ...
    async def get(self, order_id: str) -> FraudReview | None: ...

    async def screening(self, order_id: str, customer_id: str,
                        since: datetime) -> ScreeningRecord:
        """The order's review with the customer's failures since `since`: one read."""
        ...

    async def save(self, review: FraudReview) -> None: ...
    async def pending(self, limit: int) -> list[FraudReview]: ...


class Shipments(Protocol):
    async def add(self, shipment: Shipment) -> None: ...
    async def get(self, shipment_id: str) -> Shipment | None: ...

    async def with_order(self, shipment_id: str) -> tuple[Shipment, Order] | None:
        """The shipment and the order it ships, in one read; None when there is none."""
        ...

    async def by_tracking(self, carrier: str, tracking_number: str) -> Shipment | None: ...
    async def save(self, shipment: Shipment) -> None: ...
    async def of_order(self, order_id: str) -> list[Shipment]: ...


class Operations(Protocol):
    async def add(self, operation: Operation) -> None: ...
    async def get(self, operation_id: str) -> Operation | None: ...
    async def by_subject(self, subject: str) -> Operation | None: ...
    async def save(self, operation: Operation) -> None: ...


class IdempotencyKeys(Protocol):
    async def reserve(self, record: IdempotencyRecord) -> IdempotencyRecord | None:
        """Insert an in-flight record; the existing one when the key was taken already."""
        ...

    async def complete(self, customer_id: str, key: str, status: int, body: Any) -> None: ...
    async def forget(self, customer_id: str, key: str) -> None: ...
    async def purge_expired(self, now: datetime) -> int: ...


class Evidence(Protocol):
    async def append(self, draft: EvidenceDraft) -> PendingEvidence:
        """Keep the record unsealed: one write that waits for no other append."""
        ...

    async def seal(self, limit: int) -> list[EvidenceRecord]:
        """Chain up to `limit` of the oldest pending records onto the head, in the order they
        were appended; the head stays locked until the unit of work ends."""
        ...

    async def sealed(self, pending: list[PendingEvidence]) -> list[EvidenceRecord]:
        """`pending` (listed, or appended in this unit of work) sealed, in chain order: what
        is pending up to the last of them is sealed now unless a sealer did it already. For
        a caller that hands out the records' places in the chain at once."""
        ...

    async def of_subject(self, subject: str, limit: int) -> list[LedgerEntry]:
        """The sealed records about `subject` in sequence order, then the pending ones."""
        ...

    async def chain(self, after_seq: int, limit: int) -> list[EvidenceRecord]:
        """Sealed records with seq greater than `after_seq`, in sequence order, at most
        `limit`."""
        ...

    async def head(self) -> LedgerHead:
        """Where the sealed chain ends, as the sealer records it (sequence number and hash)."""
        ...


class Incidents(AlertedIncidents, Protocol):
    async def open(self, kind: str, subject: str, detail: dict[str, Any]) -> str: ...
    async def of_subject(self, subject: str) -> list[dict[str, Any]]: ...

    async def open_delivery(self, *, order_id: str, shipment_id: str, seller_id: str,
                            problem: DeliveryProblem, reason: str) -> DeliveryIncident:
        """Open a delivery incident now (kind `delivery_exception`, subject `order:<id>`)."""
        ...

    async def delivery(self, incident_id: str) -> DeliveryIncident | None: ...
    async def save_delivery(self, incident: DeliveryIncident) -> None: ...

    async def deliveries_of_order(self, order_id: str) -> list[DeliveryIncident]:
        """The order's delivery incidents, oldest first."""
        ...

    async def unresolved_deliveries(self, moved_by: datetime, limit: int,
                                    statuses: list[str]) -> list[DeliveryIncident]:
        """Delivery incidents in one of `statuses` that last moved at or before `moved_by`,
        oldest first, at most `limit`."""
        ...


class Devices(Protocol):
    """The push devices customers registered, by registration token (one customer each)."""

    async def add(self, device: PushDevice) -> None:
        """Register the token for its customer; a token known before moves to them."""
        ...

    async def remove(self, token: str, customer_id: str | None = None) -> bool:
        """Forget the token (only if it is `customer_id`'s, when given); False when it was
        not registered (to them)."""
        ...

    async def of_customer(self, customer_id: str) -> list[PushDevice]:
        """The customer's devices, the most recently registered first."""
        ...


class UnitOfWork(Protocol):
    """One database transaction; leaving without commit() rolls everything back."""

    customers: Customers
    orders: Orders
    payments: Payments
    reviews: FraudReviews
    shipments: Shipments
    operations: Operations
    evidence: Evidence
    incidents: Incidents
    sign_ins: SignIns
    messages: Messages
    idempotency: IdempotencyKeys
    privacy: PrivacyStore
    devices: Devices
    credentials: ProviderCredentials
    contracts: ProviderContracts
    new_outbox_ids: list[str]

    async def __aenter__(self) -> UnitOfWork: ...
    async def __aexit__(self, *exc: object) -> None: ...
    async def commit(self) -> None: ...


class UnitOfWorkFactory(Protocol):
    def __call__(self, *, read_only: bool = False, autocommit: bool = False,
                 snapshot: bool = False) -> UnitOfWork:
        """A unit of work. `read_only`: for reads alone, without a transaction around them
        (each statement sees what is committed when it runs) and with nothing to commit.
        `autocommit`: each statement commits as it runs (no BEGIN, no COMMIT), for a single
        write or for statements that stand alone (retention's batches); `commit()` has
        nothing left to do. `snapshot`: reads only, all of them seeing one moment (a view
        made of several reads: an order with its payments), with nothing to commit."""
        ...
