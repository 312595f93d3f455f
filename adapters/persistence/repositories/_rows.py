"""Row conversions the repositories share: JSON text and timestamps."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any, overload

from piccolo.columns import JSONB
from piccolo.table import Table


def _dump(value: Any) -> str:
    text = json.dumps(value, separators=(",", ":"), default=str)
    if "\\u0000" in text:  # rare: only then walk the value
        text = json.dumps(_storable(value), separators=(",", ":"), default=str)
    return text


def _storable(value: Any) -> Any:
    """The value with U+0000 replaced by U+FFFD: PostgreSQL keeps no NUL in text or jsonb."""
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd")
    if isinstance(value, dict):
        return {_storable(key): _storable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_storable(item) for item in value]
    return value


def _load(value: str | None) -> Any:
    return None if value is None else json.loads(value)


def _with_iso(row: dict[str, Any], *columns: str) -> dict[str, Any]:
    """The row with its timestamptz `columns` as ISO-8601 text, as the application reads
    times in rows handed out whole."""
    return {**row, **{column: _at(row[column]).isoformat() for column in columns}}


@overload
def _at(value: datetime | str) -> datetime: ...
@overload
def _at(value: None) -> None: ...
def _at(value: datetime | str | None) -> datetime | None:
    """A timestamptz column's value; SQLite gives RETURNING columns back as their text."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def json_row(table: type[Table], alias: str) -> str:
    """SQL for one row of `table` (as `alias`) as JSON text, its JSON columns as their text:
    `json.loads` of it has each column as a plain read gives it (a row-typed column instead
    would have asyncpg look its type up on every new connection)."""
    return f"json_build_object({_pairs(table, alias, jsonb_as='::text')})::text"


def json_row_here(table: type[Table], alias: str) -> str:
    """`json_row` on SQLite: a JSON object, each column as a plain read of its text gives
    it (JSON columns are text there already)."""
    return f"json_object({_pairs(table, alias)})"


def _pairs(table: type[Table], alias: str, jsonb_as: str = "") -> str:
    """'name', alias."name" for every column, `jsonb_as` after the JSONB ones."""
    return ", ".join(
        f"'{name}', {alias}.\"{name}\"" + (jsonb_as if isinstance(column, JSONB) else "")
        for column in table._meta.columns
        for name in (column._meta.db_column_name,))
