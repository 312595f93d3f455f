"""The provider registry: which provider takes new payments and shipments, versioned."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns import Integer, Timestamptz, Varchar
from piccolo.columns.base import Column

from adapters.persistence.columns import Json

ID = "2026-12-03T07:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "Provider contracts"

COLUMNS: dict[str, Column] = {
    "id": Varchar(length=40, primary_key=True),
    "capability": Varchar(length=16, index=True),
    "provider": Varchar(length=40),
    "countries": Json(default='["*"]'),
    "currencies": Json(default='["*"]'),
    "methods": Json(default='["*"]'),
    "priority": Integer(default=100),
    "status": Varchar(length=12),
    "valid_from": Timestamptz(null=True, default=None),
    "valid_until": Timestamptz(null=True, default=None),
    "version": Integer(default=1),
    "changed_at": Timestamptz(null=True, default=None),
    "changed_by": Varchar(length=40, default=""),
    "note": Varchar(length=200, default=""),
    "history": Json(default="[]"),
}


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="mall", description=DESCRIPTION)
    manager.add_table(class_name="ProviderContractRow", tablename="provider_contract",
                      schema=None, columns=None)
    for name, column in COLUMNS.items():
        manager.add_column(
            table_class_name="ProviderContractRow", tablename="provider_contract",
            column_name=name, db_column_name=name, column_class_name=type(column).__name__,
            column_class=type(column), params=dict(column._meta.params), schema=None,
        )
    return manager
