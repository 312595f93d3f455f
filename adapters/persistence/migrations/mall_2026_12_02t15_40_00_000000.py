"""Messages keep a delivery record each (status, channel, provider, the consent relied on,
the address masked) and the addresses suppressed after a bounce or a complaint; customers
may give a mobile number, a language and a time zone. Customers stored before have none."""

from typing import Any

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns import Timestamptz, Varchar
from piccolo.columns.base import Column

from adapters.persistence.columns import Json

ID = "2026-12-02T15:40:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "Message deliveries and suppressions; customers' phone, language, time zone"

TABLES: dict[tuple[str, str], dict[str, Column]] = {
    ("MessageDelivery", "message_delivery"): {
        "message_id": Varchar(length=120, primary_key=True),
        "customer_id": Varchar(length=40, index=True),
        "template": Varchar(length=64),
        "template_version": Varchar(length=64, default=""),
        "channel": Varchar(length=16, default=""),
        "provider": Varchar(length=40, default=""),
        "provider_message_id": Varchar(length=200, default="", index=True),
        "masked_address": Varchar(length=80, default=""),
        "address_key": Varchar(length=64, default=""),
        "status": Varchar(length=16),
        "consent": Varchar(length=80, default=""),
        "error_code": Varchar(length=64, default=""),
        "not_before": Timestamptz(null=True, default=None, index=True),
        "params": Json(default="{}"),
        "created_at": Timestamptz(),
        "updated_at": Timestamptz(),
    },
    ("MessageSuppression", "message_suppression"): {
        "address_key": Varchar(length=64, primary_key=True),
        "channel": Varchar(length=16),
        "reason": Varchar(length=24),
        "created_at": Timestamptz(),
    },
}

CUSTOMER_COLUMNS: tuple[tuple[str, Column], ...] = (
    ("phone", Varchar(length=16, default="")),
    ("language", Varchar(length=8, default="")),
    ("time_zone", Varchar(length=64, default="")),
)


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="mall", description=DESCRIPTION)
    for (class_name, tablename), columns in TABLES.items():
        manager.add_table(class_name=class_name, tablename=tablename, schema=None,
                          columns=None)
        for name, column in columns.items():
            manager.add_column(
                table_class_name=class_name, tablename=tablename, column_name=name,
                db_column_name=name, column_class_name=type(column).__name__,
                column_class=type(column), params=column._meta.params, schema=None,
            )
    customer: dict[str, Any] = {"table_class_name": "Customer", "tablename": "customer",
                                "schema": None}
    for name, column in CUSTOMER_COLUMNS:
        manager.add_column(
            **customer, column_name=name, db_column_name=name,
            column_class_name=type(column).__name__, column_class=type(column),
            params=dict(column._meta.params),
        )
    return manager
