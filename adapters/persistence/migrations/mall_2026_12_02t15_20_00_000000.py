"""Delivery incidents keep their problem, their owner, when they last moved and how they
ended; an incident's status takes up to 24 characters ("awaiting_customer"). Incidents stored
before are kept as they are, their new columns empty."""

from typing import Any

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns import Timestamptz, Varchar
from piccolo.columns.base import Column
from piccolo.engine.finder import engine_finder

ID = "2026-12-02T15:20:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "Delivery incidents: problem, owner, updated_at, resolution, resolved_at"

NEW: tuple[tuple[str, Column], ...] = (
    ("problem", Varchar(length=24, default="")),
    ("owner", Varchar(length=16, default="")),
    ("updated_at", Timestamptz(null=True, default=None, index=True)),  # the escalation check
    ("resolution", Varchar(length=24, default="")),
    ("resolved_at", Timestamptz(null=True, default=None)),
)


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="mall", description=DESCRIPTION)
    table: dict[str, Any] = {"table_class_name": "Incident", "tablename": "incident",
                             "schema": None}
    for name, column in NEW:
        manager.add_column(
            **table, column_name=name, db_column_name=name,
            column_class_name=type(column).__name__, column_class=type(column),
            params=dict(column._meta.params),
        )
    # Declared for piccolo's picture of the schema; made below (SQLite alters no column and
    # does not enforce a VARCHAR's length anyway).
    manager.alter_column(**table, column_name="status", db_column_name="status",
                         params={"length": 24}, old_params={"length": 16},
                         column_class=Varchar, old_column_class=Varchar)

    async def widen_status() -> None:
        engine = engine_finder()  # the one whose transaction the runner opened
        if engine is None:
            raise RuntimeError("piccolo finds no database engine: is PICCOLO_CONF set?")
        if engine.engine_type == "postgres":
            await engine.run_ddl("ALTER TABLE incident ALTER COLUMN status TYPE VARCHAR(24)")
        done = manager.alter_columns.alter_columns
        done[:] = [a for a in done if a.tablename != "incident"]

    manager.add_raw(widen_status)
    return manager
