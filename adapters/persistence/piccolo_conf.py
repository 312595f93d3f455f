"""piccolo_conf for the piccolo CLI and the migration runner.

`DB` starts from the environment (DATABASE_URL or the embedded SQLite file) and is replaced by
`adapters.persistence.engine.use_engine` when the application picks its engine.
"""

import os

from piccolo.conf.apps import AppRegistry

from adapters.persistence.engine import engine_for

DB = engine_for(
    os.environ.get("MALL_DATABASE_URL") or os.environ.get("DATABASE_URL") or "",
    os.environ.get("MALL_SQLITE_PATH", "var/mall.sqlite"),
)

APP_REGISTRY = AppRegistry(apps=["adapters.persistence.piccolo_app"])
