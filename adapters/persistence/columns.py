"""Column types of our own (the baseline migration imports them: keep them stable)."""

from __future__ import annotations

from piccolo.columns import JSONB


class Json(JSONB):
    """A JSON document, read and written as JSON text: `jsonb` on PostgreSQL; `TEXT` on
    SQLite, where any other type name would store a bare number's text as a number."""

    @property
    def column_type(self) -> str:
        return "JSONB" if self._meta.engine_type == "postgres" else "TEXT"
