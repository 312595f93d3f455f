"""Orders keep the delivery the customer chose: the carrier's service and the delivery fee
(minor units of the order's currency, counted in its total)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns import BigInt, Varchar

ID = "2026-12-02T15:05:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "Orders keep the chosen delivery service and its fee"


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="mall", description=DESCRIPTION)
    for name, column in (("service", Varchar(length=40)), ("shipping_fee", BigInt(default=0))):
        manager.add_column(
            table_class_name="Order", tablename="orders", column_name=name,
            db_column_name=name, column_class_name=type(column).__name__,
            column_class=type(column), params=dict(column._meta.params), schema=None,
        )
    return manager
