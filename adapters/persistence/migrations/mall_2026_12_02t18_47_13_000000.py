"""Alerted incidents: what each incident opened with an alert was paged with, and who
acknowledged and resolved it (one incident_alert row per incident)."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns import Timestamptz, Varchar
from piccolo.columns.base import Column

ID = "2026-12-02T18:47:13:000000"
VERSION = "1.38.0"
DESCRIPTION = "Incident alerts"

COLUMNS: dict[str, Column] = {
    "incident_id": Varchar(length=40, primary_key=True),
    "severity": Varchar(length=16),
    "source": Varchar(length=40),
    "summary": Varchar(length=300),
    "opened_at": Timestamptz(index=True),
    "acknowledged_at": Timestamptz(null=True, default=None),
    "acknowledged_by": Varchar(length=40, default=""),
    "escalated_at": Timestamptz(null=True, default=None),
    "resolved_at": Timestamptz(null=True, default=None),
    "resolved_by": Varchar(length=40, default=""),
    "note": Varchar(length=500, default=""),
}


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="mall", description=DESCRIPTION)
    manager.add_table(class_name="IncidentAlert", tablename="incident_alert", schema=None,
                      columns=None)
    for name, column in COLUMNS.items():
        manager.add_column(
            table_class_name="IncidentAlert", tablename="incident_alert", column_name=name,
            db_column_name=name, column_class_name=type(column).__name__,
            column_class=type(column), params=dict(column._meta.params), schema=None,
        )
    return manager
