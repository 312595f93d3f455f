"""Korean domestic parcels followed through Delivery Tracker: one row a parcel, saying when to
look next (a restart resumes the schedule) and until when its webhook is registered."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns import Integer, Text, Timestamptz, Varchar
from piccolo.columns.base import Column

ID = "2026-12-02T15:10:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "Parcel watches: the schedule of following Korean domestic parcels"

COLUMNS: dict[str, Column] = {
    "shipment_id": Varchar(length=40, primary_key=True),
    "carrier": Varchar(length=40),
    "tracking_number": Varchar(length=64),
    "status": Varchar(length=16),
    "started_at": Timestamptz(),
    "next_check_at": Timestamptz(null=True, default=None, index=True),
    "quiet_checks": Integer(default=0),
    "webhook_expires_at": Timestamptz(null=True, default=None),
    "reason": Text(default=""),
}


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="mall", description=DESCRIPTION)
    manager.add_table(class_name="ParcelWatch", tablename="parcel_watch", schema=None,
                      columns=None)
    for name, column in COLUMNS.items():
        manager.add_column(
            table_class_name="ParcelWatch", tablename="parcel_watch", column_name=name,
            db_column_name=name, column_class_name=type(column).__name__,
            column_class=type(column), params=dict(column._meta.params), schema=None,
        )
    return manager
