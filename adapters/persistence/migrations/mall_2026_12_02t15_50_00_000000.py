"""Push devices: the registration tokens customers' apps register to receive notifications."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns import Timestamptz, Varchar
from piccolo.columns.base import Column

ID = "2026-12-02T15:50:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "Push devices registered by customers"

COLUMNS: dict[str, Column] = {
    "token": Varchar(length=512, primary_key=True),
    "customer_id": Varchar(length=40, index=True),
    "platform": Varchar(length=16),
    "registered_at": Timestamptz(),
}


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="mall", description=DESCRIPTION)
    manager.add_table(class_name="PushDevice", tablename="push_device", schema=None,
                      columns=None)
    for name, column in COLUMNS.items():
        manager.add_column(
            table_class_name="PushDevice", tablename="push_device", column_name=name,
            db_column_name=name, column_class_name=type(column).__name__,
            column_class=type(column), params=column._meta.params, schema=None,
        )
    return manager
