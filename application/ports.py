"""Ports: what the use cases need from the outside world, as typing.Protocol contracts.

Every adapter (real provider, sandbox, in-memory fake) honours the docstring of its port.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from domain.customers import Customer
from domain.evidence import Checkpoint, EvidenceDraft, EvidenceRecord, LedgerHead
from domain.identity import AuthFlow, Identity, PendingLink, Session
from domain.money import Money
from domain.operations import Operation
from domain.orders import Order, ShippingAddress
from domain.payments import Payment, PaymentUpdate
from domain.shipments import Shipment, TrackingUpdate

# --- messages crossing the ports ------------------------------------------------------------


@dataclass(frozen=True)
class PaymentRequest:
    payment_id: str
    order_id: str
    amount: Money
    method: str  # "card" | "virtual_account" | ...
    method_token: str  # a provider token (Stripe pm_..., Toss paymentKey), never card data
    idempotency_key: str
    customer_reference: str  # pseudonymous, never the email
    capture: bool = True  # False: authorize only (held for review), capture on approval
    description: str = ""  # shown by the provider to the customer (Toss orderName)


@dataclass(frozen=True)
class ProviderCall:
    """A follow-up call about an existing payment at its provider."""

    provider_reference: str
    amount: Money
    idempotency_key: str  # the provider does the same thing at most once per key
    reason: str = ""
    order_id: str = ""  # files the exchange's evidence under its order

    @property
    def subject(self) -> str:
        return f"order:{self.order_id}" if self.order_id else f"payment:{self.provider_reference}"


@dataclass(frozen=True)
class InboundEvent:
    """A verified webhook: the provider's own event id and its parsed body."""

    event_id: str
    kind: str
    payload: dict[str, Any]


@dataclass(frozen=True)
class ShipmentRequest:
    shipment_id: str
    order_id: str
    idempotency_key: str
    address: ShippingAddress
    items: list[dict[str, Any]]


@dataclass(frozen=True)
class VerifiedIdentity:
    """Who the provider says signed in, after every check on its answer passed."""

    provider: str
    subject: str
    email: str | None
    email_verified: bool  # only a provider's explicit `email_verified: true` counts


@dataclass(frozen=True)
class AuthorizationRequest:
    state: str  # random, bound server-side to this sign-in, used once
    nonce: str  # random, must come back inside the ID token
    code_challenge: str  # PKCE S256 of a verifier kept server-side
    redirect_uri: str
    login_hint: str | None = None
    # "login": the person must sign in at the provider again, whatever session it has (a
    # link must name the account its owner chose, not whichever one is signed in there).
    prompt: str | None = None


@dataclass(frozen=True)
class CallbackParams:
    """What the provider sent back to our callback (query string or form_post body)."""

    code: str
    iss: str | None = None  # RFC 9207: the issuer that sent the response


@dataclass(frozen=True)
class RealNameVerification:
    """A Korean identity verification result (PASS, NICE...): CI and DI never leave the
    identity module; analytics and third parties never see them."""

    ci: str  # connecting information: the same person across services
    di: str  # duplication information: the same person within this service
    verified_at: datetime
    adult: bool = False


@dataclass(frozen=True)
class AnalyticsEvent:
    message_id: str  # the same on every retry, so a sink can count the event once
    name: str
    anonymous_id: str  # pseudonymous: a keyed hash, never a customer id or an email
    occurred_at: datetime
    properties: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Notification:
    channel: str  # "email" | "sms" | "push"
    recipient: str
    template: str
    params: dict[str, Any]


@dataclass(frozen=True)
class RiskSignals:
    """What the mall knows around an order when it screens it (no personal data)."""

    customer_history: Sequence[Order]  # the customer's earlier orders, newest first
    account_created_at: datetime | None = None
    failed_logins_24h: int = 0
    failed_payments_24h: int = 0
    ip_country: str | None = None  # from the edge proxy's country header
    billing_country: str | None = None


@dataclass(frozen=True)
class RiskAssessment:
    score: float  # 0 (safe) .. 1 (certainly fraud)
    decision: str  # "approve" | "review" | "reject"
    reasons: list[str]


@dataclass(frozen=True)
class Alert:
    severity: str  # "warning" | "critical"
    source: str
    summary: str
    detail: dict[str, Any] = field(default_factory=dict)


# --- providers ------------------------------------------------------------------------------


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware in UTC."""
        ...


class PaymentGateway(Protocol):
    """A payment provider.

    Every call is safe to repeat with the same idempotency key: the provider acts at most
    once per key and answers repeats with the first result. When no usable answer came back
    the call raises ProviderUnavailable (whose `request_sent` says whether the provider may
    have acted); a refusal by the provider is an update with a FAILED or REFUND_FAILED event
    and a FailureReason code, not an exception.
    """

    name: str
    supports_manual_capture: bool

    async def authorize(self, request: PaymentRequest) -> PaymentUpdate: ...

    async def capture(self, call: ProviderCall) -> PaymentUpdate:
        """Capture an authorized payment (after a fraud review approved it)."""
        ...

    async def cancel(self, call: ProviderCall) -> PaymentUpdate:
        """Release an authorization that was not captured (void)."""
        ...

    async def refund(self, call: ProviderCall) -> PaymentUpdate:
        """Refund `amount` of a captured payment; the update's REFUNDED event `settles` the
        idempotency key (our refund id)."""
        ...

    async def lookup(self, provider_reference: str) -> PaymentUpdate:
        """The provider's current view of a payment (captures, refunds, disputes), for
        reconciliation and for webhooks whose body cannot be trusted."""
        ...

    async def available(self) -> bool:
        """False while calls would not even be sent (its circuit is open)."""
        ...

    def verify_webhook(self, headers: Mapping[str, str], body: bytes) -> InboundEvent:
        """Check the signature (any key of the ring) and parse; InvalidSignature otherwise."""
        ...

    def translate_webhook(self, event: InboundEvent) -> tuple[str, PaymentUpdate] | None:
        """(provider reference, update) for events about a payment; None for others."""
        ...


class Carrier(Protocol):
    """A logistics partner: books shipments and reports tracking by signed webhooks."""

    name: str

    async def create_shipment(self, request: ShipmentRequest) -> str:
        """Book the shipment (idempotent per key) and return its tracking number."""
        ...

    def verify_webhook(self, headers: Mapping[str, str], body: bytes) -> InboundEvent: ...

    def translate_webhook(self, event: InboundEvent) -> TrackingUpdate | None: ...


class IdentityProvider(Protocol):
    """An external sign-in provider (OpenID Connect, or OAuth2 with a profile endpoint).

    Failures raise SignInRefused (the provider's answer failed a check: state, issuer, token
    signature, audience, expiry, nonce...; nothing is stored) or ProviderUnavailable (the
    provider could not be reached: discovery, token or JWKS endpoint down).
    """

    name: str
    response_mode: str  # "query" or "form_post" (Apple): how the callback arrives

    async def authorization_url(self, request: AuthorizationRequest) -> str: ...

    async def exchange_code(
        self, callback: CallbackParams, *, code_verifier: str, nonce: str, redirect_uri: str
    ) -> VerifiedIdentity:
        """Redeem the code and return the identity whose token passed every check."""
        ...

    async def available(self) -> bool:
        """False while no one can sign in with it: its circuit is open, it does not answer a
        quick check, or a fault (see `fault`) is known."""
        ...

    def fault(self) -> str | None:
        """Why every sign-in with it would fail until someone fixes a setting (ours or the
        provider's), as found when it was last checked; None when none is known."""
        ...


class RealNameVerifier(Protocol):
    """Korean identity verification (a PASS/NICE-style service) behind one port."""

    name: str

    async def verify(self, token: str) -> RealNameVerification:
        """Redeem the verification token the customer brought back; SignInRefused if bad."""
        ...


class AnalyticsSink(Protocol):
    """Receives anonymized business events; must never be given personal data."""

    async def track(self, event: AnalyticsEvent) -> None: ...


class Notifier(Protocol):
    """Delivers a transactional message on one channel; raises ProviderUnavailable to retry."""

    async def send(self, notification: Notification) -> None: ...


class FraudScreen(Protocol):
    """Scores an order before payment; every score carries its reasons."""

    async def screen(self, order: Order, signals: RiskSignals) -> RiskAssessment: ...

    async def learn(self, paid_totals: Sequence[tuple[str, int]]) -> None:
        """Refit the statistical model on the mall's paid order totals (currency, minor)."""
        ...


class AlertSink(Protocol):
    """Tells the operators that a partner or a job failed and needs a human."""

    async def alert(self, alert: Alert) -> None: ...


class PasswordHasher(Protocol):
    """Slow on purpose (memory-hard): implementations keep that work off the event loop."""

    async def hash(self, password: str) -> str: ...

    async def verify(self, password_hash: str, password: str) -> bool: ...


class TokenIssuer(Protocol):
    def issue(self, customer: Customer, session_id: str = "") -> tuple[str, int]:
        """A signed access token (bound to a session when given) and its lifetime."""
        ...

    def subject(self, token: str) -> str:
        """The customer id inside a valid token; Unauthorized otherwise."""
        ...

    def claims(self, token: str) -> dict[str, Any]:
        """The claims of a valid access token (sub, sid...); Unauthorized otherwise."""
        ...

    def purpose_token(self, purpose: str, subject: str, binding: str, lifetime: int) -> str:
        """A signed single-purpose token (email verification, password reset); `binding`
        ties it to state that changes once it is used (the password hash, the email)."""
        ...

    def read_purpose_token(self, token: str, purpose: str) -> tuple[str, str]:
        """(subject, binding) of a valid token of this purpose; Unauthorized otherwise."""
        ...


class DataCipher(Protocol):
    """Envelope encryption and blind indexes for the most sensitive identifiers."""

    @property
    def current_key_id(self) -> str: ...

    def seal(self, plaintext: str, context: str) -> str: ...
    def open(self, sealed: str, context: str) -> str: ...
    def key_id_of(self, sealed: str) -> str: ...
    def rewrap(self, sealed: str, context: str) -> str: ...
    def blind_index(self, value: str, purpose: str) -> str: ...


class TaskQueue(Protocol):
    """Hands work to background actors, best-effort: called after the commit, it never raises
    (a message the broker does not take is logged and left to the sweep, which re-sends)."""

    def dispatch_outbox(self, message_ids: Sequence[str]) -> None: ...

    def dispatch_inbox(self, message_id: str) -> None: ...


class PeriodicRuns(Protocol):
    """The cluster-wide record of periodic job runs; claiming a period is the lock."""

    async def claim(self, job: str, period_start: datetime) -> bool:
        """Record that this process runs `job` for the period starting at `period_start`:
        True for exactly one caller per (job, period) across every process sharing the
        database, False for all the others."""
        ...

    async def finish(self, job: str, period_start: datetime, outcome: str) -> None:
        """Record how the run this process claimed ended ("done" or "failed")."""
        ...


class EvidenceLedger(Protocol):
    """Appends evidence in a transaction of its own (for exchanges outside a unit of work)."""

    async def record(self, draft: EvidenceDraft) -> None: ...


class CheckpointStore(Protocol):
    """Signed checkpoints of the evidence ledger, kept where whoever can write the database
    cannot rewrite them (an append-only file, write-once storage, a log service)."""

    async def append(self, checkpoint: Checkpoint) -> None:
        """Keep one more checkpoint; those kept before are never changed or removed."""
        ...

    async def read(self) -> list[str]:
        """Every checkpoint kept, oldest first, as written (`Checkpoint.to_line`); empty when
        none was written yet. Raises OSError when the store cannot be read."""
        ...


# --- persistence ----------------------------------------------------------------------------


@dataclass
class OutboxMessage:
    id: str
    topic: str
    payload: dict[str, Any]
    attempts: int = 0
    status: str = "pending"


@dataclass
class InboxMessage:
    id: str
    provider: str
    event_id: str
    kind: str
    payload: dict[str, Any]
    status: str = "received"
    received_at: datetime | None = None


@dataclass
class FraudReview:
    """An order held by the fraud screen until a human approves or rejects it."""

    order_id: str
    customer_id: str
    score: float
    reasons: list[str]
    opened_at: datetime
    status: str = "pending"  # pending | approved | rejected
    decided_at: datetime | None = None
    decided_by: str | None = None
    note: str = ""


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
    async def by_email(self, email: str) -> Customer | None: ...
    async def lock(self, customer_id: str) -> None: ...
    async def save(self, customer: Customer) -> None: ...
    async def set_identity_verified(self, customer_id: str, verified: bool) -> None: ...
    async def record_login_failure(self, customer_id: str, at: datetime) -> None: ...
    async def login_failures_since(self, customer_id: str, since: datetime) -> int: ...


class Orders(Protocol):
    async def lock(self, order_id: str) -> None:
        """Hold the order until the unit of work ends: changes to one order go one at a time."""
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
    async def save(self, payment: Payment) -> None: ...
    async def of_order(self, order_id: str) -> list[Payment]: ...

    async def waiting_on_customer(self, created_before: datetime, limit: int) -> list[Payment]:
        """Payments waiting for the customer (a deposit, a 3-D Secure step), oldest first."""
        ...

    async def unsettled(self, created_before: datetime, limit: int) -> list[Payment]:
        """Payments still waiting for the provider's word, oldest first."""
        ...

    async def failures_of_customer(self, customer_id: str, since: datetime) -> int: ...


class IdentityLinks(Protocol):
    async def add(self, identity: Identity) -> bool:
        """False when (provider, subject) is linked already (to anyone)."""
        ...

    async def by_subject(self, provider: str, subject: str) -> Identity | None: ...
    async def of_customer(self, customer_id: str) -> list[Identity]: ...
    async def remove(self, provider: str, subject: str) -> None: ...
    async def move(self, from_customer: str, to_customer: str) -> int: ...


class AuthFlows(Protocol):
    async def add(self, flow: AuthFlow) -> None: ...

    async def take(self, state_hash: str) -> AuthFlow | None:
        """The flow, marked used atomically; `used` is True when it had been used before."""
        ...

    async def purge(self, created_before: datetime) -> int: ...


class PendingLinks(Protocol):
    async def add(self, link: PendingLink) -> None: ...
    async def get(self, token_hash: str) -> PendingLink | None: ...
    async def save(self, link: PendingLink) -> None: ...


class Sessions(Protocol):
    async def add(self, session: Session) -> None: ...
    async def get(self, session_id: str) -> Session | None: ...
    async def by_refresh(self, refresh_hash: str) -> Session | None: ...
    async def save(self, session: Session) -> None: ...
    async def rotate(self, session_id: str, successor_id: str) -> bool:
        """Active → rotated atomically; False when it was not active any more."""
        ...

    async def revoke_family(self, family_id: str) -> int: ...
    async def revoke_customer(self, customer_id: str) -> int: ...


class RealNames(Protocol):
    async def add(self, customer_id: str, di_index: str, ci_ciphertext: str, key_id: str,
                  verified_at: datetime, adult: bool) -> bool: ...
    async def owner_of(self, di_index: str) -> str | None: ...
    async def of_customer(self, customer_id: str) -> dict[str, Any] | None: ...
    async def rekey(self, customer_id: str, ci_ciphertext: str, key_id: str) -> None: ...
    async def key_ids(self) -> list[str]: ...
    async def under_key(self, key_id: str, limit: int) -> list[dict[str, Any]]: ...


class Consents(Protocol):
    async def set(self, customer_id: str, purpose: str, granted: bool) -> None: ...
    async def of_customer(self, customer_id: str) -> dict[str, bool]: ...


class AuthEvents(Protocol):
    async def add(self, name: str, provider: str, *, channel: str = "", campaign: str = "",
                  reason: str = "", flow: str = "", anon_id: str = "", at: float) -> None: ...
    async def between(self, start: float, end: float) -> list[dict[str, Any]]: ...


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


class FraudReviews(Protocol):
    async def add(self, review: FraudReview) -> None: ...
    async def get(self, order_id: str) -> FraudReview | None: ...
    async def save(self, review: FraudReview) -> None: ...
    async def pending(self, limit: int) -> list[FraudReview]: ...


class Shipments(Protocol):
    async def add(self, shipment: Shipment) -> None: ...
    async def get(self, shipment_id: str) -> Shipment | None: ...
    async def by_tracking(self, carrier: str, tracking_number: str) -> Shipment | None: ...
    async def save(self, shipment: Shipment) -> None: ...
    async def of_order(self, order_id: str) -> list[Shipment]: ...


class Operations(Protocol):
    async def add(self, operation: Operation) -> None: ...
    async def get(self, operation_id: str) -> Operation | None: ...
    async def by_subject(self, subject: str) -> Operation | None: ...
    async def save(self, operation: Operation) -> None: ...


class Outbox(Protocol):
    async def add(self, topic: str, payload: dict[str, Any]) -> str: ...

    async def claim(self, message_id: str, lease_seconds: float) -> OutboxMessage | None:
        """Take the message for one worker for a while; None if done or held by another."""
        ...

    async def complete(self, message_id: str) -> None: ...
    async def release(self, message_id: str, error: str, dead: bool) -> None: ...

    async def unfinished(self, older_than_seconds: float, limit: int) -> list[str]:
        """Messages nobody finished: lost by the broker or held by a worker that died."""
        ...


class Inbox(Protocol):
    async def add(self, provider: str, event: InboundEvent) -> str | None:
        """Store a verified webhook; None when (provider, event id) was already stored."""
        ...

    async def claim(self, message_id: str) -> InboxMessage | None: ...
    async def complete(self, message_id: str, status: str) -> None: ...
    async def unprocessed(self, older_than_seconds: float, limit: int) -> list[str]: ...


class IdempotencyKeys(Protocol):
    async def reserve(self, record: IdempotencyRecord) -> IdempotencyRecord | None:
        """Insert an in-flight record; the existing one when the key was taken already."""
        ...

    async def complete(self, customer_id: str, key: str, status: int, body: Any) -> None: ...
    async def forget(self, customer_id: str, key: str) -> None: ...
    async def purge_expired(self, now: datetime) -> int: ...


class Evidence(Protocol):
    async def append(self, draft: EvidenceDraft) -> EvidenceRecord: ...
    async def of_subject(self, subject: str, limit: int) -> list[EvidenceRecord]: ...
    async def chain(self, after_seq: int, limit: int) -> list[EvidenceRecord]:
        """Records with seq greater than `after_seq`, in sequence order, at most `limit`."""
        ...

    async def head(self) -> LedgerHead:
        """Where the chain ends, as recorded with each append (sequence number and hash)."""
        ...


class Incidents(Protocol):
    async def open(self, kind: str, subject: str, detail: dict[str, Any]) -> str: ...
    async def of_subject(self, subject: str) -> list[dict[str, Any]]: ...


class Notifications(Protocol):
    async def log(self, customer_id: str, channel: str, template: str, subject: str) -> None:
        """Keep that a message was sent (no recipient address, no body)."""
        ...


class UnitOfWork(Protocol):
    """One database transaction; leaving without commit() rolls everything back."""

    customers: Customers
    orders: Orders
    payments: Payments
    reviews: FraudReviews
    identities: IdentityLinks
    flows: AuthFlows
    pending_links: PendingLinks
    sessions: Sessions
    real_names: RealNames
    consents: Consents
    auth_events: AuthEvents
    privacy: PrivacyStore
    shipments: Shipments
    operations: Operations
    outbox: Outbox
    inbox: Inbox
    idempotency: IdempotencyKeys
    evidence: Evidence
    incidents: Incidents
    notifications: Notifications
    new_outbox_ids: list[str]

    async def __aenter__(self) -> UnitOfWork: ...
    async def __aexit__(self, *exc: object) -> None: ...
    async def commit(self) -> None: ...


class UnitOfWorkFactory(Protocol):
    def __call__(self) -> UnitOfWork: ...
