"""piccolo's configuration module answers with the engine the application chose."""

from __future__ import annotations

from pathlib import Path

import pytest
from piccolo.engine.finder import engine_finder
from piccolo.engine.sqlite import SQLiteEngine

from adapters.persistence import engine, piccolo_conf
from adapters.persistence.tables import ALL_TABLES


def test_piccolo_finds_the_engine_the_application_chose(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PICCOLO_CONF", engine.PICCOLO_CONF)
    from piccolo.apps.migrations.tables import Migration

    # Put back whatever engine the tables and the module had before.
    monkeypatch.setattr(engine, "_in_use", engine.engine_in_use())
    for table in [*ALL_TABLES, Migration]:
        monkeypatch.setattr(table._meta, "db", table._meta.db)
    chosen = SQLiteEngine(path=str(tmp_path / "chosen.sqlite"))
    engine.use_engine(chosen)
    assert piccolo_conf.DB is chosen
    assert engine_finder() is chosen  # how piccolo's migration runner finds it
