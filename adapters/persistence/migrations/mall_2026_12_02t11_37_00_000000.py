"""Evidence is appended unsealed: `evidence_record.seq`, `prev_hash` and `hash` may be null
until the sealer chains the record (an append is one INSERT, waiting for no lock). Every record
stored before is sealed already, so no row changes."""

from typing import Any

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns import BigInt, Serial, Varchar
from piccolo.columns.base import Column
from piccolo.engine.finder import engine_finder

from adapters.persistence.columns import Json
from adapters.persistence.retype import to_timestamptz

ID = "2026-12-02T11:37:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "Evidence records wait unsealed: seq, prev_hash and hash nullable"

COLUMNS: dict[str, Column] = {
    "id": Serial(primary_key=True),
    "seq": BigInt(unique=True, null=True, default=None),
    "source": Varchar(length=64),
    "kind": Varchar(length=64),
    "subject": Varchar(length=80, index=True),
    "received_at": Varchar(length=40),
    "context": Json(),
    "payload_hash": Varchar(length=64),
    "payload": Json(),
    "prev_hash": Varchar(length=64, null=True, default=None),
    "hash": Varchar(length=64, null=True, default=None),
}
BEFORE: dict[str, Column] = {
    "seq": BigInt(unique=True), "prev_hash": Varchar(length=64), "hash": Varchar(length=64),
}


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="mall", description=DESCRIPTION)
    # Declared for piccolo's picture of the schema; made below (SQLite alters no column).
    table: dict[str, Any] = {"table_class_name": "EvidenceRecord",
                             "tablename": "evidence_record", "schema": None}
    for name, before in BEFORE.items():
        after = COLUMNS[name]
        manager.alter_column(**table, column_name=name, db_column_name=name,
                             params=after._meta.params, column_class=type(after),
                             old_params=before._meta.params, old_column_class=type(before))

    async def allow_nulls() -> None:
        engine = engine_finder()  # the one whose transaction the runner opened
        if engine is None:
            raise RuntimeError("piccolo finds no database engine: is PICCOLO_CONF set?")
        if engine.engine_type == "postgres":
            for name in BEFORE:
                await engine.run_ddl(f"ALTER TABLE evidence_record ALTER COLUMN {name} "
                                     "DROP NOT NULL")
        else:  # with no time column to convert, this rebuilds the table as declared, rows kept
            await to_timestamptz(engine, "EvidenceRecord", "evidence_record", COLUMNS, {})
        done = manager.alter_columns.alter_columns
        done[:] = [a for a in done if a.tablename != "evidence_record"]

    manager.add_raw(allow_nulls)
    return manager
