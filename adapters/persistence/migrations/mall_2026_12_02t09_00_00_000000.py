"""Customers', identity links', real names', consents', fraud reviews', shipments',
operations', incidents' and the notification log's times are `timestamptz` (they were
ISO-8601 text), rows included. Evidence records keep `received_at` as text: their hash seals
it as written (see tables.EvidenceRecord)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns import Boolean, DoublePrecision, Serial, Text, Timestamptz, Varchar
from piccolo.columns.base import Column

from adapters.persistence.columns import Json
from adapters.persistence.retype import Held, convert_in

ID = "2026-12-02T09:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "Accounts, reviews, shipments, operations, incidents and notices keep timestamptz"

# How the converted columns were: ISO-8601 text, some of them nullable.
TEXT: tuple[Held, Column] = ("iso", Varchar(length=40))
TEXT_OR_NULL: tuple[Held, Column] = ("iso", Varchar(length=40, default=None, null=True))


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="mall", description=DESCRIPTION)
    convert_in(manager, "Customer", "customer", {
        "id": Varchar(length=40, primary_key=True),
        "email": Varchar(length=254, unique=True),
        "password_hash": Text(),
        "role": Varchar(length=16, default="customer"),
        "created_at": Timestamptz(),
        "identity_verified": Boolean(),
        "email_verified": Boolean(),
        "jurisdiction": Varchar(length=16, default="default"),
    }, {"created_at": TEXT})
    convert_in(manager, "IdentityLink", "identity_link", {
        "id": Serial(primary_key=True),
        "dedupe_key": Varchar(length=300, unique=True),
        "customer_id": Varchar(length=40, index=True),
        "provider": Varchar(length=40),
        "subject": Varchar(length=255),
        "email": Varchar(length=254, default=None, null=True),
        "email_verified": Boolean(),
        "linked_at": Timestamptz(),
    }, {"linked_at": TEXT})
    convert_in(manager, "RealNameIdentity", "real_name_identity", {
        "customer_id": Varchar(length=40, primary_key=True),
        "di_index": Varchar(length=64, unique=True),
        "ci_ciphertext": Text(),
        "key_id": Varchar(length=40),
        "verified_at": Timestamptz(),
        "adult": Boolean(),
    }, {"verified_at": TEXT})
    convert_in(manager, "Consent", "consent", {
        "id": Serial(primary_key=True),
        "dedupe_key": Varchar(length=120, unique=True),
        "customer_id": Varchar(length=40, index=True),
        "purpose": Varchar(length=40),
        "granted": Boolean(),
        "updated_at": Timestamptz(),
    }, {"updated_at": TEXT})
    convert_in(manager, "FraudReview", "fraud_review", {
        "order_id": Varchar(length=40, primary_key=True),
        "customer_id": Varchar(length=40),
        "score": DoublePrecision(),
        "reasons": Json(default="[]"),
        "status": Varchar(length=16, index=True),
        "opened_at": Timestamptz(),
        "decided_at": Timestamptz(default=None, null=True),
        "decided_by": Varchar(length=40, default=None, null=True),
        "note": Text(),
    }, {"opened_at": TEXT, "decided_at": TEXT_OR_NULL})
    convert_in(manager, "Shipment", "shipment", {
        "id": Varchar(length=40, primary_key=True),
        "order_id": Varchar(length=40, index=True),
        "seller_id": Varchar(length=64),
        "carrier": Varchar(length=40),
        "status": Varchar(length=32),
        "tracking_number": Varchar(length=64, default=None, null=True, index=True),
        "last_event_at": Timestamptz(default=None, null=True),
        "history": Json(default="[]"),
    }, {"last_event_at": TEXT_OR_NULL})
    convert_in(manager, "Operation", "operation", {
        "id": Varchar(length=40, primary_key=True),
        "customer_id": Varchar(length=40),
        "kind": Varchar(length=32),
        "subject": Varchar(length=80, index=True),
        "status": Varchar(length=16),
        "message": Text(),
        "result": Json(default=None, null=True),
        "created_at": Timestamptz(),
        "updated_at": Timestamptz(default=None, null=True),
    }, {"created_at": TEXT, "updated_at": TEXT_OR_NULL})
    convert_in(manager, "Incident", "incident", {
        "id": Varchar(length=40, primary_key=True),
        "kind": Varchar(length=40),
        "subject": Varchar(length=80, index=True),
        "detail": Json(),
        "status": Varchar(length=16, default="open"),
        "opened_at": Timestamptz(),
    }, {"opened_at": TEXT})
    convert_in(manager, "NotificationLog", "notification_log", {
        "id": Serial(primary_key=True),
        "owner": Varchar(length=80, index=True),
        "channel": Varchar(length=16),
        "template": Varchar(length=64),
        "subject": Varchar(length=80),
        "sent_at": Timestamptz(),
    }, {"sent_at": TEXT})
    return manager
