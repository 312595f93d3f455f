"""The times of periodic runs are `timestamptz` (they were epoch seconds), rows included."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns import DoublePrecision, Timestamptz, Varchar
from piccolo.engine.finder import engine_finder

from adapters.persistence.retype import to_timestamptz

ID = "2026-12-02T07:45:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "Periodic runs keep their times as timestamptz"

COLUMNS = {
    "id": Varchar(length=120, primary_key=True),
    "job": Varchar(length=64, index=True),
    "period_start": Timestamptz(),
    "holder": Varchar(length=120),
    "started_at": Timestamptz(),
    "finished_at": Timestamptz(null=True, default=None),
    "outcome": Varchar(length=16, default="running"),
}
CONVERTED = {"period_start": "epoch", "started_at": "epoch", "finished_at": "epoch"}
BEFORE = {
    "period_start": DoublePrecision(), "started_at": DoublePrecision(),
    "finished_at": DoublePrecision(null=True, default=None),
}


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="mall", description=DESCRIPTION)
    # Declared for piccolo's picture of the schema; the change itself is `convert`, which
    # keeps the rows (piccolo's own ALTER has no way to read epoch seconds as times).
    for name in CONVERTED:
        manager.alter_column(
            table_class_name="PeriodicRun", tablename="periodic_run", column_name=name,
            db_column_name=name, params=COLUMNS[name]._meta.params,
            old_params=BEFORE[name]._meta.params, column_class=Timestamptz,
            old_column_class=DoublePrecision, schema=None,
        )

    async def convert():
        # The engine of the transaction the runner opened for this migration.
        await to_timestamptz(engine_finder(), "PeriodicRun", "periodic_run", COLUMNS, CONVERTED)
        manager.alter_columns.alter_columns.clear()  # done: nothing left for piccolo to alter

    manager.add_raw(convert)
    return manager
