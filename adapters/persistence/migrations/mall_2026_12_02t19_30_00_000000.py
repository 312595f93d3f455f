"""Providers' credentials and endpoints, versioned and sealed, changed through the rotation
workflow."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns import Integer, Text, Timestamptz, Varchar
from piccolo.columns.base import Column

from adapters.persistence.columns import Json

ID = "2026-12-02T19:30:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "Provider credentials"

COLUMNS: dict[str, Column] = {
    "id": Varchar(length=40, primary_key=True),
    "provider": Varchar(length=40, index=True),
    "kind": Varchar(length=16),
    "version": Integer(),
    "sealed": Text(),
    "fingerprint": Varchar(length=16),
    "status": Varchar(length=12, index=True),
    "proposed_at": Timestamptz(),
    "proposed_by": Varchar(length=40, default=""),
    "validated_at": Timestamptz(null=True, default=None),
    "activated_at": Timestamptz(null=True, default=None),
    "retire_at": Timestamptz(null=True, default=None),
    "retired_at": Timestamptz(null=True, default=None),
    "settings_until": Timestamptz(null=True, default=None),
    "reason": Varchar(length=300, default=""),
    "steps": Json(default="[]"),
}


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="mall", description=DESCRIPTION)
    manager.add_table(class_name="ProviderCredentialRow", tablename="provider_credential",
                      schema=None, columns=None)
    for name, column in COLUMNS.items():
        manager.add_column(
            table_class_name="ProviderCredentialRow", tablename="provider_credential",
            column_name=name, db_column_name=name, column_class_name=type(column).__name__,
            column_class=type(column), params=dict(column._meta.params), schema=None,
        )
    return manager
