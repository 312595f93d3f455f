"""The sandbox gateway's charges and the sandbox carrier's parcels keep `created_at` as
`timestamptz` (it was epoch seconds), rows included."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns import BigInt, DoublePrecision, Timestamptz, Varchar

from adapters.persistence.columns import Json
from adapters.persistence.retype import convert_in

ID = "2026-12-02T09:30:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "The sandbox partners' books keep timestamptz"


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="mall", description=DESCRIPTION)
    convert_in(manager, "SandboxCharge", "sandbox_charge", {
        "idempotency_key": Varchar(length=320, primary_key=True),
        "reference": Varchar(length=40, unique=True),
        "status": Varchar(length=32),
        "amount": BigInt(),
        "currency": Varchar(length=3),
        "scenario": Varchar(length=40),
        "order_id": Varchar(length=40),
        "merchant_reference": Varchar(length=40, default=""),
        "capture_method": Varchar(length=16, default="automatic"),
        "created_at": Timestamptz(),
        "refunds": Json(default="[]"),
        "disputes": Json(default="[]"),
    }, {"created_at": ("epoch", DoublePrecision())})
    convert_in(manager, "SandboxParcel", "sandbox_parcel", {
        "idempotency_key": Varchar(length=80, primary_key=True),
        "tracking_number": Varchar(length=40, unique=True),
        "scenario": Varchar(length=40),
        "order_id": Varchar(length=40),
        "created_at": Timestamptz(),
    }, {"created_at": ("epoch", DoublePrecision())})
    return manager
