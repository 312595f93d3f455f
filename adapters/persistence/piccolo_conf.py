"""piccolo_conf for the piccolo CLI and the migration runner.

`DB` is the engine the application chose (`adapters.persistence.engine.use_engine`), or else
one from the environment (DATABASE_URL or the embedded SQLite file). It is looked up on each
read, so the engine module never has to reach back into this one.
"""

import os
from functools import cache
from typing import Any

from piccolo.conf.apps import AppRegistry
from piccolo.engine.base import Engine

from adapters.persistence.engine import engine_for, engine_in_use


@cache
def _from_environment() -> Engine[Any]:
    return engine_for(
        os.environ.get("MALL_DATABASE_URL") or os.environ.get("DATABASE_URL") or "",
        os.environ.get("MALL_SQLITE_PATH", "var/mall.sqlite"),
    )


def __getattr__(name: str) -> Engine[Any]:
    if name == "DB":  # piccolo reads it by name
        return engine_in_use() or _from_environment()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


APP_REGISTRY = AppRegistry(apps=["adapters.persistence.piccolo_app"])
