"""The piccolo app: our tables and where their migrations live."""

import os

from piccolo.conf.apps import AppConfig

from adapters.persistence.tables import ALL_TABLES

APP_CONFIG = AppConfig(
    app_name="mall",
    migrations_folder_path=os.path.join(os.path.dirname(__file__), "migrations"),
    table_classes=ALL_TABLES,
    migration_dependencies=[],
    commands=[],
)
