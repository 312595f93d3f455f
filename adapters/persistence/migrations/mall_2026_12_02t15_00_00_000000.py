"""Shipments say what they hold (quantities per SKU, for split and partial fulfilment), the
carrier's service, and every distinct tracking event heard of (their status is folded from
those, so events arriving out of order or twice give the same shipment)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns import Varchar

from adapters.persistence.columns import Json

ID = "2026-12-02T15:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "Shipments hold lines, a service and their tracking events"


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="mall", description=DESCRIPTION)
    for name, column in (("lines", Json(default="{}")), ("service", Varchar(length=40)),
                         ("marks", Json(default="[]"))):
        manager.add_column(
            table_class_name="Shipment", tablename="shipment", column_name=name,
            db_column_name=name, column_class_name=type(column).__name__,
            column_class=type(column), params=dict(column._meta.params), schema=None,
        )
    return manager
