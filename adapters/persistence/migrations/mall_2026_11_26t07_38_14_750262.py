from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import Varchar
from piccolo.columns.indexes import IndexMethod

ID = "2026-11-26T07:38:14:750262"
VERSION = "1.38.0"
DESCRIPTION = "Sign-in flows are bound to the browser that started them"


async def forwards():
    manager = MigrationManager(
        migration_id=ID, app_name="mall", description=DESCRIPTION
    )

    manager.add_column(
        table_class_name="AuthFlow",
        tablename="auth_flow",
        column_name="browser_hash",
        db_column_name="browser_hash",
        column_class_name="Varchar",
        column_class=Varchar,
        params={
            "length": 64,
            "default": "",
            "null": False,
            "primary_key": False,
            "unique": False,
            "index": False,
            "index_method": IndexMethod.btree,
            "choices": None,
            "db_column_name": None,
            "secret": False,
        },
        schema=None,
    )

    return manager
