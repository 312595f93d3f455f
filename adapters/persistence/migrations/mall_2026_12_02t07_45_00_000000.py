"""The times of periodic runs are `timestamptz` (they were epoch seconds), rows included."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns import DoublePrecision, Timestamptz, Varchar

from adapters.persistence.retype import convert_in

ID = "2026-12-02T07:45:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "Periodic runs keep their times as timestamptz"


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="mall", description=DESCRIPTION)
    convert_in(manager, "PeriodicRun", "periodic_run", {
        "id": Varchar(length=120, primary_key=True),
        "job": Varchar(length=64, index=True),
        "period_start": Timestamptz(),
        "holder": Varchar(length=120),
        "started_at": Timestamptz(),
        "finished_at": Timestamptz(null=True, default=None),
        "outcome": Varchar(length=16, default="running"),
    }, {
        "period_start": ("epoch", DoublePrecision()),
        "started_at": ("epoch", DoublePrecision()),
        "finished_at": ("epoch", DoublePrecision(null=True, default=None)),
    })
    return manager
