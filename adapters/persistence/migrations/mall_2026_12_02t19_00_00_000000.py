"""Analytics events waiting for each analytics service (Segment, GA4, the log): one row per
event and destination, the dead letters among them."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns import Integer, Timestamptz, Varchar
from piccolo.columns.base import Column

from adapters.persistence.columns import Json

ID = "2026-12-02T19:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "Analytics deliveries"

COLUMNS: dict[str, Column] = {
    "id": Varchar(length=160, primary_key=True),
    "message_id": Varchar(length=120, index=True),
    "destination": Varchar(length=16),
    "name": Varchar(length=64, index=True),
    "anonymous_id": Varchar(length=64),
    "key_id": Varchar(length=32, default=""),
    "properties": Json(default="{}"),
    "occurred_at": Timestamptz(index=True),
    "status": Varchar(length=8, index=True),
    "attempts": Integer(default=0),
    "next_attempt_at": Timestamptz(index=True),
    "last_error": Varchar(length=200, default=""),
    "sent_at": Timestamptz(null=True, default=None),
}


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="mall", description=DESCRIPTION)
    manager.add_table(class_name="AnalyticsDelivery", tablename="analytics_delivery",
                      schema=None, columns=None)
    for name, column in COLUMNS.items():
        manager.add_column(
            table_class_name="AnalyticsDelivery", tablename="analytics_delivery",
            column_name=name, db_column_name=name, column_class_name=type(column).__name__,
            column_class=type(column), params=dict(column._meta.params), schema=None,
        )
    return manager
