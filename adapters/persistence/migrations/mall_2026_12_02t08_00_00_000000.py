"""Orders', payments' and payment events' times are `timestamptz` (they were ISO-8601 text),
rows included: pages of orders and payments due for a look are ordered by time itself."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns import BigInt, Boolean, Integer, Serial, Text, Timestamptz, Varchar

from adapters.persistence.columns import Json
from adapters.persistence.retype import convert_in

ID = "2026-12-02T08:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "Orders, payments and payment events keep their times as timestamptz"


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="mall", description=DESCRIPTION)
    convert_in(manager, "Order", "orders", {
        "id": Varchar(length=40, primary_key=True),
        "customer_id": Varchar(length=40, index=True),
        "currency": Varchar(length=3),
        "status": Varchar(length=32),
        "carrier": Varchar(length=40),
        "note": Text(),
        "lines": Json(default="[]"),
        "shipping_address": Json(),
        "created_at": Timestamptz(),
        "total": BigInt(),
        "held_for_review": Boolean(),
    }, {
        "created_at": ("iso", Varchar(length=40)),
    })
    convert_in(manager, "Payment", "payment", {
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
        "created_at": Timestamptz(index=True),
    }, {
        "created_at": ("iso", Varchar(length=40, index=True)),
    })
    convert_in(manager, "PaymentEvent", "payment_event", {
        "id": Serial(primary_key=True),
        "dedupe_key": Varchar(length=400, unique=True),
        "payment_id": Varchar(length=40, index=True),
        "seq": Integer(),
        "body": Json(),
        "recorded_at": Timestamptz(),
    }, {
        "recorded_at": ("iso", Varchar(length=40)),
    })
    return manager
