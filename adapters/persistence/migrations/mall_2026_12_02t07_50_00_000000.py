"""The outbox's, the inbox's and idempotency keys' times are `timestamptz` (they were epoch
seconds), rows included."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns import DoublePrecision, Integer, Text, Timestamptz, Varchar

from adapters.persistence.columns import Json
from adapters.persistence.retype import convert_in

ID = "2026-12-02T07:50:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "Outbox, inbox and idempotency keys keep their times as timestamptz"


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="mall", description=DESCRIPTION)
    convert_in(manager, "OutboxMessage", "outbox_message", {
        "id": Varchar(length=40, primary_key=True),
        "topic": Varchar(length=64),
        "payload": Json(),
        "status": Varchar(length=16, index=True),
        "attempts": Integer(),
        "last_error": Text(default=None, null=True),
        "created_at": Timestamptz(),
        "available_at": Timestamptz(),
    }, {
        "created_at": ("epoch", DoublePrecision()),
        "available_at": ("epoch", DoublePrecision()),
    })
    convert_in(manager, "InboxMessage", "inbox_message", {
        "id": Varchar(length=40, primary_key=True),
        "dedupe_key": Varchar(length=300, unique=True),
        "provider": Varchar(length=40),
        "event_id": Varchar(length=255),
        "kind": Varchar(length=80),
        "payload": Json(),
        "status": Varchar(length=16, index=True),
        "received_at": Timestamptz(),
        "available_at": Timestamptz(),
    }, {
        "received_at": ("epoch", DoublePrecision()),
        "available_at": ("epoch", DoublePrecision()),
    })
    convert_in(manager, "IdempotencyKey", "idempotency_key", {
        "id": Varchar(length=64, primary_key=True),
        "customer_id": Varchar(length=40),
        "request_hash": Varchar(length=64),
        "request_target": Text(default=None, null=True),
        "status": Varchar(length=16),
        "response_status": Integer(default=None, null=True),
        "response_body": Json(default=None, null=True),
        "expires_at": Timestamptz(index=True),
    }, {
        "expires_at": ("epoch", DoublePrecision(index=True)),
    })
    return manager
