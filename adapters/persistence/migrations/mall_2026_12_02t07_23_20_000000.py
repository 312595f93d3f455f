"""The mall's schema as one baseline, in place of the migrations of 2026-11-26 to 2026-12-02.

A database those migrations made is not migrated again: `adapters.persistence.squashed` brings
it to this schema and records this baseline as applied. Piccolo builds its picture of the
schema from the calls below, so `piccolo migrations new mall --auto` keeps working on top.
"""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns import BigInt, Boolean, DoublePrecision, Integer, Text, Varchar
from piccolo.columns.base import Column

from adapters.persistence.columns import Json

ID = "2026-12-02T07:23:20:000000"
VERSION = "1.38.0"
DESCRIPTION = "The mall's schema, one baseline"

# (class name, table name): columns. A table without a primary key here gets piccolo's
# `id` serial.
SCHEMA: dict[tuple[str, str], dict[str, Column]] = {
    ("Customer", "customer"): {
        "id": Varchar(length=40, primary_key=True),
        "email": Varchar(length=254, unique=True),
        "password_hash": Text(),
        "role": Varchar(length=16, default="customer"),
        "created_at": Varchar(length=40),
        "identity_verified": Boolean(),
        "email_verified": Boolean(),
        "jurisdiction": Varchar(length=16, default="default"),
    },
    ("IdentityLink", "identity_link"): {
        "dedupe_key": Varchar(length=300, unique=True),
        "customer_id": Varchar(length=40, index=True),
        "provider": Varchar(length=40),
        "subject": Varchar(length=255),
        "email": Varchar(length=254, default=None, null=True),
        "email_verified": Boolean(),
        "linked_at": Varchar(length=40),
    },
    ("AuthFlow", "auth_flow"): {
        "state_hash": Varchar(length=64, primary_key=True),
        "provider": Varchar(length=40),
        "purpose": Varchar(length=16),
        "nonce": Varchar(length=128),
        "code_verifier": Varchar(length=128),
        "redirect_uri": Varchar(length=500),
        "customer_id": Varchar(length=40, default=None, null=True),
        "channel": Varchar(length=64),
        "campaign": Varchar(length=64),
        "created_at": Varchar(length=40, index=True),
        "used": Boolean(),
        "browser_hash": Varchar(length=64),
        "session_id": Varchar(length=40, default=None, null=True),
    },
    ("PendingLink", "pending_link"): {
        "token_hash": Varchar(length=64, primary_key=True),
        "customer_id": Varchar(length=40, index=True),
        "provider": Varchar(length=40),
        "subject": Varchar(length=255),
        "email": Varchar(length=254),
        "created_at": Varchar(length=40),
        "used": Boolean(),
    },
    ("AuthSession", "auth_session"): {
        "id": Varchar(length=40, primary_key=True),
        "customer_id": Varchar(length=40, index=True),
        "family_id": Varchar(length=40, index=True),
        "refresh_hash": Varchar(length=64, unique=True),
        "created_at": Varchar(length=40),
        "expires_at": Varchar(length=40),
        "status": Varchar(length=16),
        "replaced_by": Varchar(length=40, default=None, null=True),
    },
    ("RealNameIdentity", "real_name_identity"): {
        "customer_id": Varchar(length=40, primary_key=True),
        "di_index": Varchar(length=64, unique=True),
        "ci_ciphertext": Text(),
        "key_id": Varchar(length=40),
        "verified_at": Varchar(length=40),
        "adult": Boolean(),
    },
    ("Consent", "consent"): {
        "dedupe_key": Varchar(length=120, unique=True),
        "customer_id": Varchar(length=40, index=True),
        "purpose": Varchar(length=40),
        "granted": Boolean(),
        "updated_at": Varchar(length=40),
    },
    ("AuthEvent", "auth_event"): {
        "at": DoublePrecision(index=True),
        "name": Varchar(length=40),
        "provider": Varchar(length=40),
        "channel": Varchar(length=64),
        "campaign": Varchar(length=64),
        "reason": Varchar(length=64),
        "flow": Varchar(length=64),
        "anon_id": Varchar(length=40),
    },
    ("RetainedRecord", "retained_record"): {
        "id": Varchar(length=40, primary_key=True),
        "record_class": Varchar(length=40),
        "subject": Varchar(length=40, index=True),
        "jurisdiction": Varchar(length=16),
        "payload": Json(),
        "created_at": Varchar(length=40),
        "retain_until": DoublePrecision(index=True),
    },
    ("LoginFailure", "login_failure"): {
        "customer_id": Varchar(length=40, index=True),
        "at": DoublePrecision(index=True),
    },
    ("Order", "orders"): {
        "id": Varchar(length=40, primary_key=True),
        "customer_id": Varchar(length=40, index=True),
        "currency": Varchar(length=3),
        "status": Varchar(length=32),
        "carrier": Varchar(length=40),
        "note": Text(),
        "lines": Json(default="[]"),
        "shipping_address": Json(),
        "created_at": Varchar(length=40),
        "total": BigInt(),
        "held_for_review": Boolean(),
    },
    ("Payment", "payment"): {
        "id": Varchar(length=40, primary_key=True),
        "order_id": Varchar(length=40, index=True),
        "customer_id": Varchar(length=40),
        "provider": Varchar(length=40),
        "provider_reference": Varchar(length=128, default=None, null=True, index=True),
        "amount": BigInt(),
        "currency": Varchar(length=3),
        "method": Varchar(length=32),
        "idempotency_key": Varchar(length=320),
        "status": Varchar(length=32),
        "failure_code": Varchar(length=64, default=None, null=True),
        "next_action": Json(default=None, null=True),
        "deposit_account": Json(default=None, null=True),
        "callback_secret_hash": Varchar(length=64, default=None, null=True),
        "capture": Varchar(length=16, default="automatic"),
        "history": Json(default="[]"),
        "created_at": Varchar(length=40, index=True),
    },
    ("PaymentEvent", "payment_event"): {
        "dedupe_key": Varchar(length=400, unique=True),
        "payment_id": Varchar(length=40, index=True),
        "seq": Integer(),
        "body": Json(),
        "recorded_at": Varchar(length=40),
    },
    ("FraudReview", "fraud_review"): {
        "order_id": Varchar(length=40, primary_key=True),
        "customer_id": Varchar(length=40),
        "score": DoublePrecision(),
        "reasons": Json(default="[]"),
        "status": Varchar(length=16, index=True),
        "opened_at": Varchar(length=40),
        "decided_at": Varchar(length=40, default=None, null=True),
        "decided_by": Varchar(length=40, default=None, null=True),
        "note": Text(),
    },
    ("Shipment", "shipment"): {
        "id": Varchar(length=40, primary_key=True),
        "order_id": Varchar(length=40, index=True),
        "seller_id": Varchar(length=64),
        "carrier": Varchar(length=40),
        "status": Varchar(length=32),
        "tracking_number": Varchar(length=64, default=None, null=True, index=True),
        "last_event_at": Varchar(length=40, default=None, null=True),
        "history": Json(default="[]"),
    },
    ("Operation", "operation"): {
        "id": Varchar(length=40, primary_key=True),
        "customer_id": Varchar(length=40),
        "kind": Varchar(length=32),
        "subject": Varchar(length=80, index=True),
        "status": Varchar(length=16),
        "message": Text(),
        "result": Json(default=None, null=True),
        "created_at": Varchar(length=40),
        "updated_at": Varchar(length=40, default=None, null=True),
    },
    ("OutboxMessage", "outbox_message"): {
        "id": Varchar(length=40, primary_key=True),
        "topic": Varchar(length=64),
        "payload": Json(),
        "status": Varchar(length=16, index=True),
        "attempts": Integer(),
        "last_error": Text(default=None, null=True),
        "created_at": DoublePrecision(),
        "available_at": DoublePrecision(),
    },
    ("InboxMessage", "inbox_message"): {
        "id": Varchar(length=40, primary_key=True),
        "dedupe_key": Varchar(length=300, unique=True),
        "provider": Varchar(length=40),
        "event_id": Varchar(length=255),
        "kind": Varchar(length=80),
        "payload": Json(),
        "status": Varchar(length=16, index=True),
        "received_at": DoublePrecision(),
        "available_at": DoublePrecision(),
    },
    ("IdempotencyKey", "idempotency_key"): {
        "id": Varchar(length=64, primary_key=True),
        "customer_id": Varchar(length=40),
        "request_hash": Varchar(length=64),
        "request_target": Text(default=None, null=True),
        "status": Varchar(length=16),
        "response_status": Integer(default=None, null=True),
        "response_body": Json(default=None, null=True),
        "expires_at": DoublePrecision(index=True),
    },
    ("EvidenceRecord", "evidence_record"): {
        "seq": BigInt(unique=True),
        "source": Varchar(length=64),
        "kind": Varchar(length=64),
        "subject": Varchar(length=80, index=True),
        "received_at": Varchar(length=40),
        "context": Json(),
        "payload_hash": Varchar(length=64),
        "payload": Json(),
        "prev_hash": Varchar(length=64),
        "hash": Varchar(length=64),
    },
    ("EvidenceHead", "evidence_head"): {
        "id": Integer(primary_key=True),
        "seq": BigInt(),
        "head_hash": Varchar(length=64),
    },
    ("Incident", "incident"): {
        "id": Varchar(length=40, primary_key=True),
        "kind": Varchar(length=40),
        "subject": Varchar(length=80, index=True),
        "detail": Json(),
        "status": Varchar(length=16, default="open"),
        "opened_at": Varchar(length=40),
    },
    ("NotificationLog", "notification_log"): {
        "owner": Varchar(length=80, index=True),
        "channel": Varchar(length=16),
        "template": Varchar(length=64),
        "subject": Varchar(length=80),
        "sent_at": Varchar(length=40),
    },
    ("PeriodicRun", "periodic_run"): {
        "id": Varchar(length=120, primary_key=True),
        "job": Varchar(length=64, index=True),
        "period_start": DoublePrecision(),
        "holder": Varchar(length=120),
        "started_at": DoublePrecision(),
        "finished_at": DoublePrecision(default=None, null=True),
        "outcome": Varchar(length=16, default="running"),
    },
    ("SandboxCharge", "sandbox_charge"): {
        "idempotency_key": Varchar(length=320, primary_key=True),
        "reference": Varchar(length=40, unique=True),
        "status": Varchar(length=32),
        "amount": BigInt(),
        "currency": Varchar(length=3),
        "scenario": Varchar(length=40),
        "order_id": Varchar(length=40),
        "merchant_reference": Varchar(length=40),
        "capture_method": Varchar(length=16, default="automatic"),
        "created_at": DoublePrecision(),
        "refunds": Json(default="[]"),
        "disputes": Json(default="[]"),
    },
    ("SandboxParcel", "sandbox_parcel"): {
        "idempotency_key": Varchar(length=80, primary_key=True),
        "tracking_number": Varchar(length=40, unique=True),
        "scenario": Varchar(length=40),
        "order_id": Varchar(length=40),
        "created_at": DoublePrecision(),
    },
}


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="mall", description=DESCRIPTION)
    for (class_name, tablename), columns in SCHEMA.items():
        manager.add_table(class_name=class_name, tablename=tablename, schema=None, columns=None)
        for name, column in columns.items():
            manager.add_column(
                table_class_name=class_name, tablename=tablename, column_name=name,
                db_column_name=name, column_class_name=type(column).__name__,
                column_class=type(column), params=column._meta.params, schema=None,
            )
    return manager
