"""Turning columns that hold times as epoch seconds or ISO-8601 text into `timestamptz`, rows
included, on both engines (migrations call it; keep it stable).

PostgreSQL changes the type in place (`ALTER COLUMN ... TYPE timestamptz USING ...`). SQLite
cannot change a column's type, and piccolo reads a time back only from a column declared
TIMESTAMPTZ, so there the table is rebuilt: renamed aside, created anew (its indexes too),
its rows copied with each time converted, the old one dropped.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.base import Column
from piccolo.engine.base import Engine
from piccolo.engine.finder import engine_finder
from piccolo.table import Table, create_table_class

Held = Literal["epoch", "iso"]  # how a column held its times until now


def convert_in(manager: MigrationManager, class_name: str, tablename: str,
               columns: dict[str, Column], converted: dict[str, tuple[Held, Column]]) -> None:
    """Have a migration convert the columns: `columns` are all the table's columns as they
    will be; `converted` gives, for each column converted, how it held its times and its
    column before. The alterations are declared for piccolo's picture of the schema, but
    made by `to_timestamptz`, which keeps the rows (piccolo's own ALTER cannot)."""
    for name, (_, before) in converted.items():
        manager.alter_column(
            table_class_name=class_name, tablename=tablename, column_name=name,
            db_column_name=name, params=columns[name]._meta.params,
            old_params=before._meta.params, column_class=type(columns[name]),
            old_column_class=type(before), schema=None,
        )

    async def convert() -> None:
        engine = engine_finder()  # the one whose transaction the runner opened
        if engine is None:
            raise RuntimeError("piccolo finds no database engine: is PICCOLO_CONF set?")
        await to_timestamptz(engine, class_name, tablename, columns,
                             {name: held for name, (held, _) in converted.items()})
        done = manager.alter_columns.alter_columns
        done[:] = [a for a in done if a.tablename != tablename]  # nothing left for piccolo

    manager.add_raw(convert)


async def to_timestamptz(engine: Engine[Any], class_name: str, tablename: str,
                         columns: dict[str, Column], converted: dict[str, Held]) -> None:
    """`columns` are all the table's columns as they will be (the converted ones Timestamptz);
    `converted` names the columns to convert and how they held their times."""
    if engine.engine_type == "postgres":
        for name, held in converted.items():
            using = (f"to_timestamp({name})" if held == "epoch"
                     else f"NULLIF({name}, '')::timestamptz")
            await engine.run_ddl(f"ALTER TABLE {tablename} ALTER COLUMN {name} DROP DEFAULT")
            await engine.run_ddl(
                f"ALTER TABLE {tablename} ALTER COLUMN {name} TYPE timestamptz USING {using}")
            if columns[name]._meta.params["default"] is not None:
                await engine.run_ddl(
                    f"ALTER TABLE {tablename} ALTER COLUMN {name} SET DEFAULT current_timestamp")
        return
    await _rebuild_sqlite(engine, class_name, tablename, columns, converted)


async def _rebuild_sqlite(engine: Engine[Any], class_name: str, tablename: str,
                          columns: dict[str, Column], converted: dict[str, Held]) -> None:
    if not any(column._meta.params.get("primary_key") for column in columns.values()):
        raise ValueError(f"{tablename}: name its primary key among the columns")
    aside = f"{tablename}__before_timestamptz"
    table: type[Table] = create_table_class(
        class_name=class_name, class_kwargs={"tablename": tablename},
        class_members={name: _copy(column) for name, column in columns.items()})
    table._meta.db = engine
    indexes = await table.raw(
        "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = {} "
        "AND sql IS NOT NULL", tablename)
    for index in indexes:  # they keep their names when the table is renamed: free them
        await engine.run_ddl(f'DROP INDEX "{index["name"]}"')
    await engine.run_ddl(f"ALTER TABLE {tablename} RENAME TO {aside}")
    for statement in table.create_table().ddl:
        await engine.run_ddl(statement)
    # Our own table and column names, never input.
    rows = await engine.run_ddl(f"SELECT {', '.join(columns)} FROM {aside}")  # noqa: S608
    converted_rows = [
        {name: (_as_time(row[name], converted[name]) if name in converted else row[name])
         for name in row.keys()}
        for row in rows
    ]
    for start in range(0, len(converted_rows), 500):
        batch = converted_rows[start:start + 500]
        await table.insert(*[table(_data=row) for row in batch])
    await engine.run_ddl(f"DROP TABLE {aside}")


def _copy(column: Column) -> Column:
    return type(column)(**column._meta.params)


def _as_time(value: Any, held: Held) -> datetime | None:
    if value is None or value == "":
        return None
    if held == "epoch" and isinstance(value, int | float):
        return datetime.fromtimestamp(value, UTC)
    # ISO text; in SQLite's loosely typed columns, possibly in an epoch one too.
    parsed = datetime.fromisoformat(str(value))
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(UTC)
