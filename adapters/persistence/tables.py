"""Piccolo tables. JSON is `jsonb` on PostgreSQL (text on SQLite). Times are `timestamptz`
(`adapters.persistence.retype` converted the older columns, rows included), but for the
evidence ledger's (text, sealed by its hash) and the sandbox providers' books (epoch seconds,
as the sandbox adapters keep them)."""

from __future__ import annotations

from piccolo.columns import (
    BigInt,
    Boolean,
    DoublePrecision,
    Integer,
    Text,
    Timestamptz,
    Varchar,
)
from piccolo.table import Table

# Re-exported: the rest of the code finds every table here.
from adapters.persistence.alert_tables import (
    IncidentAlert as IncidentAlert,
)
from adapters.persistence.analytics_tables import (
    AnalyticsDelivery as AnalyticsDelivery,
)
from adapters.persistence.columns import Json
from adapters.persistence.credential_tables import (
    ProviderCredentialRow as ProviderCredentialRow,
)
from adapters.persistence.message_tables import (
    Campaign as Campaign,
)
from adapters.persistence.message_tables import (
    CampaignRecipient as CampaignRecipient,
)
from adapters.persistence.message_tables import (
    MailboxMessage as MailboxMessage,
)
from adapters.persistence.message_tables import (
    MessageDelivery as MessageDelivery,
)
from adapters.persistence.message_tables import (
    MessageSuppression as MessageSuppression,
)
from adapters.persistence.message_tables import (
    PushDevice as PushDevice,
)
from adapters.persistence.registry_tables import (
    ProviderContractRow as ProviderContractRow,
)


class Customer(Table, tablename="customer"):
    id = Varchar(length=40, primary_key=True)
    email = Varchar(length=254, unique=True)
    password_hash = Text()
    role = Varchar(length=16, default="customer")
    created_at = Timestamptz()
    identity_verified = Boolean(default=False)  # KYC: a verified real-name identity
    email_verified = Boolean(default=False)
    jurisdiction = Varchar(length=16, default="default")  # which retention rules apply
    phone = Varchar(length=16, default="")  # E.164, for SMS
    language = Varchar(length=8, default="")  # en | ko
    time_zone = Varchar(length=64, default="")  # IANA


class IdentityLink(Table, tablename="identity_link"):
    """A provider account linked to a customer; one customer per (provider, subject)."""

    dedupe_key = Varchar(length=300, unique=True)  # "{provider}|{subject}"
    customer_id = Varchar(length=40, index=True)
    provider = Varchar(length=40)
    subject = Varchar(length=255)
    email = Varchar(length=254, null=True, default=None)
    email_verified = Boolean(default=False)
    linked_at = Timestamptz()


class AuthFlow(Table, tablename="auth_flow"):
    """A sign-in in progress: state (kept as its hash), nonce and PKCE verifier; 10 minutes."""

    state_hash = Varchar(length=64, primary_key=True)
    provider = Varchar(length=40)
    purpose = Varchar(length=16)
    nonce = Varchar(length=128)
    code_verifier = Varchar(length=128)
    redirect_uri = Varchar(length=500)
    customer_id = Varchar(length=40, null=True, default=None, index=True)
    channel = Varchar(length=64, default="")
    campaign = Varchar(length=64, default="")
    created_at = Timestamptz(index=True)
    used = Boolean(default=False)
    browser_hash = Varchar(length=64, default="")
    session_id = Varchar(length=40, null=True, default=None)


class PendingLink(Table, tablename="pending_link"):
    token_hash = Varchar(length=64, primary_key=True)
    customer_id = Varchar(length=40, index=True)
    provider = Varchar(length=40)
    subject = Varchar(length=255)
    email = Varchar(length=254)
    created_at = Timestamptz(index=True)
    used = Boolean(default=False)


class AuthSession(Table, tablename="auth_session"):
    id = Varchar(length=40, primary_key=True)
    customer_id = Varchar(length=40, index=True)
    family_id = Varchar(length=40, index=True)
    refresh_hash = Varchar(length=64, unique=True)
    created_at = Timestamptz()
    expires_at = Timestamptz()
    status = Varchar(length=16)
    replaced_by = Varchar(length=40, null=True, default=None)


class RealNameIdentity(Table, tablename="real_name_identity"):
    """Korean CI/DI: CI encrypted under a data key wrapped by a master key (its id kept),
    DI only as a keyed blind index, unique: one account per person."""

    customer_id = Varchar(length=40, primary_key=True)
    di_index = Varchar(length=64, unique=True)
    ci_ciphertext = Text()
    key_id = Varchar(length=40)
    verified_at = Timestamptz()
    adult = Boolean(default=False)


class Consent(Table, tablename="consent"):
    dedupe_key = Varchar(length=120, unique=True)  # "{customer id}|{purpose}"
    customer_id = Varchar(length=40, index=True)
    purpose = Varchar(length=40)
    granted = Boolean(default=False)
    updated_at = Timestamptz()


class AuthEvent(Table, tablename="auth_event"):
    """Sign-in funnel events for attribution; pseudonymous ids only, no personal data."""

    at = Timestamptz(index=True)
    name = Varchar(length=40)
    provider = Varchar(length=40)
    channel = Varchar(length=64, default="")
    campaign = Varchar(length=64, default="")
    reason = Varchar(length=64, default="")
    flow = Varchar(length=64, default="")  # pseudonymous: ties started to its outcome
    anon_id = Varchar(length=40, default="")


class RetainedRecord(Table, tablename="retained_record"):
    """What the law still requires after an erasure, pseudonymized and kept apart until its
    retention ends."""

    id = Varchar(length=40, primary_key=True)
    record_class = Varchar(length=40)
    subject = Varchar(length=40, index=True)  # a pseudonym, not the customer id
    jurisdiction = Varchar(length=16)
    payload = Json()
    created_at = Timestamptz()
    retain_until = Timestamptz(index=True)


class LoginFailure(Table, tablename="login_failure"):
    """Failed sign-ins, a fraud signal; kept 30 days (no address, no password)."""

    customer_id = Varchar(length=40, index=True)
    at = Timestamptz(index=True)


class Order(Table, tablename="orders"):
    """Also indexed by (customer_id, created_at), for a customer's pages (SQL of its own,
    migration 2026-12-02T11:52)."""

    id = Varchar(length=40, primary_key=True)
    customer_id = Varchar(length=40)
    currency = Varchar(length=3)
    status = Varchar(length=32)
    carrier = Varchar(length=40)
    note = Text(default="")
    lines = Json(default="[]")
    shipping_address = Json()
    created_at = Timestamptz(index=True)  # the latest paid orders
    total = BigInt(default=0)  # minor units, for statistics over orders
    held_for_review = Boolean(default=False)
    service = Varchar(length=40)  # the carrier's service the customer chose
    shipping_fee = BigInt(default=0)  # minor units of the order's currency, in the total


class Payment(Table, tablename="payment"):
    """Also indexed by (customer_id, created_at), for fraud velocity, and by (status,
    created_at), for the sweep and reconciliation (migration 2026-12-02T11:52)."""

    id = Varchar(length=40, primary_key=True)
    order_id = Varchar(length=40, index=True)
    customer_id = Varchar(length=40)
    provider = Varchar(length=40)
    provider_reference = Varchar(length=128, null=True, default=None, index=True)
    amount = BigInt()
    currency = Varchar(length=3)
    method = Varchar(length=32)
    idempotency_key = Varchar(length=320)
    status = Varchar(length=32)
    failure_code = Varchar(length=64, null=True, default=None)
    next_action = Json(null=True, default=None)
    deposit_account = Json(null=True, default=None)
    callback_secret_hash = Varchar(length=64, null=True, default=None)
    capture = Varchar(length=16, default="automatic")
    history = Json(default="[]")
    created_at = Timestamptz()


class PaymentEvent(Table, tablename="payment_event"):
    """The payment's append-only log of provider facts; amounts and status derive from it."""

    dedupe_key = Varchar(length=400, unique=True)  # "{payment id}|{event key}"
    payment_id = Varchar(length=40, index=True)
    seq = Integer()
    body = Json()
    recorded_at = Timestamptz()


class FraudReview(Table, tablename="fraud_review"):
    """An order the fraud screen held for a human decision."""

    order_id = Varchar(length=40, primary_key=True)
    customer_id = Varchar(length=40, index=True)
    score = DoublePrecision()
    reasons = Json(default="[]")
    status = Varchar(length=16, index=True)  # pending | approved | rejected
    opened_at = Timestamptz()
    decided_at = Timestamptz(null=True, default=None)
    decided_by = Varchar(length=40, null=True, default=None)
    note = Text(default="")


class Shipment(Table, tablename="shipment"):
    id = Varchar(length=40, primary_key=True)
    order_id = Varchar(length=40, index=True)
    seller_id = Varchar(length=64)
    carrier = Varchar(length=40)
    status = Varchar(length=32)
    tracking_number = Varchar(length=64, null=True, default=None, index=True)
    last_event_at = Timestamptz(null=True, default=None)
    history = Json(default="[]")
    lines = Json(default="{}")  # quantity per SKU; {} is all of the seller's lines
    service = Varchar(length=40)
    marks = Json(default="[]")  # every distinct tracking event, as domain.shipments folds them


class ParcelWatch(Table, tablename="parcel_watch"):
    """Following one Korean domestic parcel through Delivery Tracker: when to look next
    (the re-check job takes the due ones) and until when its webhook is registered."""

    shipment_id = Varchar(length=40, primary_key=True)
    carrier = Varchar(length=40)
    tracking_number = Varchar(length=64)
    status = Varchar(length=16)  # following | finished | abandoned | refused
    started_at = Timestamptz()
    next_check_at = Timestamptz(null=True, default=None, index=True)
    quiet_checks = Integer(default=0)
    webhook_expires_at = Timestamptz(null=True, default=None)
    reason = Text(default="")


class Operation(Table, tablename="operation"):
    id = Varchar(length=40, primary_key=True)
    customer_id = Varchar(length=40, index=True)
    kind = Varchar(length=32)
    subject = Varchar(length=80, index=True)
    status = Varchar(length=16)
    message = Text()
    result = Json(null=True, default=None)
    created_at = Timestamptz()
    updated_at = Timestamptz(null=True, default=None)


class OutboxMessage(Table, tablename="outbox_message"):
    """Indexed by (status, created_at), for the sweep and retention (migration
    2026-12-02T11:52)."""

    id = Varchar(length=40, primary_key=True)
    topic = Varchar(length=64)
    payload = Json()
    status = Varchar(length=16)  # pending | processing | done | dead
    attempts = Integer(default=0)
    last_error = Text(null=True, default=None)
    created_at = Timestamptz()
    available_at = Timestamptz()  # lease end or next attempt


class InboxMessage(Table, tablename="inbox_message"):
    """Indexed by (status, received_at), for the sweep and retention (migration
    2026-12-02T11:52)."""

    id = Varchar(length=40, primary_key=True)
    dedupe_key = Varchar(length=300, unique=True)  # "{provider}:{event id}"
    provider = Varchar(length=40)
    event_id = Varchar(length=255)
    kind = Varchar(length=80)
    payload = Json()
    status = Varchar(length=16)  # received | processing | applied | ...
    received_at = Timestamptz()
    available_at = Timestamptz()


class IdempotencyKey(Table, tablename="idempotency_key"):
    id = Varchar(length=64, primary_key=True)  # sha256 of customer id and key
    customer_id = Varchar(length=40, index=True)
    request_hash = Varchar(length=64)  # sha256 of the canonical JSON body
    # Method and path the key was used for, so a refusal can say what differs.
    request_target = Text(null=True, default=None)
    status = Varchar(length=16)
    response_status = Integer(null=True, default=None)
    response_body = Json(null=True, default=None)
    expires_at = Timestamptz(index=True)


class EvidenceRecord(Table, tablename="evidence_record"):
    """An append inserts a row with no seq, prev_hash or hash (pending, in the order of `id`);
    the sealer chains pending rows in batches and fills those in once."""

    seq = BigInt(unique=True, null=True, default=None)
    source = Varchar(length=64)
    kind = Varchar(length=64)
    subject = Varchar(length=80, index=True)
    # ISO-8601 text, as sealed: the hash covers this very text, and a timestamptz would keep
    # the instant but not its spelling (an offset other than +00:00 would read back as UTC
    # and the record would no longer verify). A sealed record's bytes never change.
    received_at = Varchar(length=40)
    context = Json()
    payload_hash = Varchar(length=64)
    payload = Json()
    prev_hash = Varchar(length=64, null=True, default=None)
    hash = Varchar(length=64, null=True, default=None)


class EvidenceHead(Table, tablename="evidence_head"):
    """One row: the last sequence number and hash sealed. Only the sealer updates it, once
    per batch, holding it locked until commit so that sealers never fork the chain."""

    id = Integer(primary_key=True)
    seq = BigInt(default=0)
    head_hash = Varchar(length=64)


class Incident(Table, tablename="incident"):
    id = Varchar(length=40, primary_key=True)
    kind = Varchar(length=40)
    subject = Varchar(length=80, index=True)
    detail = Json()
    status = Varchar(length=24, default="open")
    opened_at = Timestamptz()
    # A delivery incident's problem, who must act, when it last moved (its deadline runs
    # from then) and how it ended; other incidents leave them empty.
    problem = Varchar(length=24, default="")
    owner = Varchar(length=16, default="")
    updated_at = Timestamptz(null=True, default=None, index=True)
    resolution = Varchar(length=24, default="")
    resolved_at = Timestamptz(null=True, default=None)


class NotificationLog(Table, tablename="notification_log"):
    owner = Varchar(length=80, index=True)  # customer id or "seller:<id>", never an address
    channel = Varchar(length=16)
    template = Varchar(length=64)
    subject = Varchar(length=80)
    sent_at = Timestamptz()


class PeriodicRun(Table, tablename="periodic_run"):
    """One run of a periodic job: the row for (job, period) is inserted by one process only,
    which is how a job runs once per period across the cluster. Kept for a day."""

    id = Varchar(length=120, primary_key=True)  # "{job}@{period start, ISO}"
    job = Varchar(length=64, index=True)
    period_start = Timestamptz()
    holder = Varchar(length=120)  # host:pid of the process that ran it
    started_at = Timestamptz()
    finished_at = Timestamptz(null=True, default=None)
    outcome = Varchar(length=16, default="running")  # running, done, failed


class SandboxCharge(Table, tablename="sandbox_charge"):
    """The sandbox gateway's own books, as a real provider keeps them on its side."""

    idempotency_key = Varchar(length=320, primary_key=True)
    reference = Varchar(length=40, unique=True)
    status = Varchar(length=32)
    amount = BigInt()
    currency = Varchar(length=3)
    scenario = Varchar(length=40)
    order_id = Varchar(length=40)
    merchant_reference = Varchar(length=40, default="")  # our payment id, echoed in webhooks
    # "manual": authorized only, after 3-D Secure too, until the merchant captures.
    capture_method = Varchar(length=16, default="automatic")
    created_at = Timestamptz()
    refunds = Json(default="[]")  # [{"id", "amount", "key"}]
    disputes = Json(default="[]")  # [{"id", "amount", "status"}]


class SandboxParcel(Table, tablename="sandbox_parcel"):
    """The sandbox carrier's own books."""

    idempotency_key = Varchar(length=80, primary_key=True)
    tracking_number = Varchar(length=40, unique=True)
    scenario = Varchar(length=40)
    order_id = Varchar(length=40)
    created_at = Timestamptz()


class SandboxParcelEvent(Table, tablename="sandbox_parcel_event"):
    """The sandbox carrier's plan of tracking webhooks, one row an event, kept so that a
    restart resumes it: sent in `sequence` order once due, each marked when it was."""

    id = Varchar(length=60, primary_key=True)  # tracking number/sequence
    tracking_number = Varchar(length=40, index=True)
    sequence = Integer()
    due_at = Timestamptz(index=True)
    event = Json()
    sent_at = Timestamptz(null=True, default=None)
    # A sender working on the event holds it until then (another one takes over after).
    claimed_until = Timestamptz(null=True, default=None)


ALL_TABLES: list[type[Table]] = [
    Customer, IdentityLink, AuthFlow, PendingLink, AuthSession, RealNameIdentity, Consent,
    AuthEvent, RetainedRecord, LoginFailure, Order, Payment, PaymentEvent, FraudReview,
    Shipment, Operation, OutboxMessage, InboxMessage, IdempotencyKey, EvidenceRecord,
    EvidenceHead, Incident, NotificationLog, PeriodicRun, SandboxCharge, SandboxParcel,
    SandboxParcelEvent, ParcelWatch,
    MailboxMessage,
    MessageDelivery, MessageSuppression,
    Campaign, CampaignRecipient,
    PushDevice,
    IncidentAlert,
    AnalyticsDelivery,
    ProviderCredentialRow,
    ProviderContractRow,
]
