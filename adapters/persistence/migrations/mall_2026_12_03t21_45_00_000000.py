"""An index for retention's purge of analytics events sent long ago (by status, then the
time they were sent), the same on both engines."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine.finder import engine_finder

ID = "2026-12-03T21:45:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "Analytics events sent, by the time they were sent"


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="mall", description=DESCRIPTION)

    async def create_index() -> None:
        engine = engine_finder()  # the one whose transaction the runner opened
        if engine is None:
            raise RuntimeError("piccolo finds no database engine: is PICCOLO_CONF set?")
        await engine.run_ddl("CREATE INDEX IF NOT EXISTS analytics_delivery_status_sent_at "
                             "ON analytics_delivery (status, sent_at)")

    manager.add_raw(create_index)
    return manager
