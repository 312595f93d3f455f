"""The sandbox carrier keeps its plan of tracking webhooks in the database, so a restart
resumes it (it lived in memory and a restart lost it)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns import Integer, Timestamptz, Varchar
from piccolo.columns.base import Column

from adapters.persistence.columns import Json

ID = "2026-12-02T15:30:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "The sandbox carrier's tracking events, planned in the database"

COLUMNS: dict[str, Column] = {
    "id": Varchar(length=60, primary_key=True),
    "tracking_number": Varchar(length=40, index=True),
    "sequence": Integer(),
    "due_at": Timestamptz(index=True),
    "event": Json(),
    "sent_at": Timestamptz(null=True, default=None),
    "claimed_until": Timestamptz(null=True, default=None),
}


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="mall", description=DESCRIPTION)
    manager.add_table(class_name="SandboxParcelEvent", tablename="sandbox_parcel_event",
                      schema=None, columns=None)
    for name, column in COLUMNS.items():
        manager.add_column(
            table_class_name="SandboxParcelEvent", tablename="sandbox_parcel_event",
            column_name=name, db_column_name=name, column_class_name=type(column).__name__,
            column_class=type(column), params=column._meta.params, schema=None,
        )
    return manager
