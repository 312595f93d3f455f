"""Choosing the database engine and bringing its schema up to date."""

from __future__ import annotations

import contextlib
import io
import os
import sys
from pathlib import Path
from urllib.parse import unquote, urlparse

from piccolo.engine.base import Engine
from piccolo.engine.postgres import PostgresEngine
from piccolo.engine.sqlite import SQLiteEngine

from adapters.persistence.tables import ALL_TABLES, EvidenceHead
from domain.evidence import GENESIS

PICCOLO_CONF = "adapters.persistence.piccolo_conf"


def engine_for(database_url: str, sqlite_path: str) -> Engine:
    """PostgreSQL when a postgres:// URL is given, else the embedded SQLite file."""
    if database_url:
        url = urlparse(database_url)
        if url.scheme not in ("postgres", "postgresql"):
            raise ValueError(f"DATABASE_URL must be a postgresql:// URL, not {url.scheme}://")
        return PostgresEngine(config={
            "host": url.hostname or "127.0.0.1",
            "port": url.port or 5432,
            "user": unquote(url.username or "postgres"),
            "password": unquote(url.password or "") or None,
            "database": (url.path or "/postgres").lstrip("/") or "postgres",
        })
    Path(sqlite_path).parent.mkdir(parents=True, exist_ok=True)
    # A generous busy timeout: concurrent writers wait for each other instead of failing.
    return SQLiteEngine(path=sqlite_path, timeout=30)


def use_engine(engine: Engine) -> None:
    """Point every table, and piccolo's migration runner, at `engine`."""
    os.environ["PICCOLO_CONF"] = PICCOLO_CONF
    from piccolo.apps.migrations.tables import Migration

    from adapters.persistence import piccolo_conf

    piccolo_conf.DB = engine  # type: ignore[attr-defined]
    for table in [*ALL_TABLES, Migration]:
        table._meta.db = engine


async def migrate(engine: Engine) -> None:
    """Apply every migration not applied yet, then make sure the ledger has its head row."""
    use_engine(engine)
    if isinstance(engine, SQLiteEngine):
        await engine.run_ddl("PRAGMA journal_mode=WAL")
    from piccolo.apps.migrations.commands.forwards import run_forwards

    # The runner prints its progress; keep our own output clean and fail loudly instead.
    with contextlib.redirect_stdout(io.StringIO()) as printed:
        result = await run_forwards(app_name="all", migration_id="all", fake=False)
    if not result.success:
        sys.stderr.write(printed.getvalue())
        raise RuntimeError(f"database migration failed: {result.message}")
    await EvidenceHead.insert(EvidenceHead(id=1, seq=0, head_hash=GENESIS)).on_conflict(
        action="DO NOTHING"
    )
