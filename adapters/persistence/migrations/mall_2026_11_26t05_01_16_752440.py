from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import Varchar
from piccolo.columns.indexes import IndexMethod

ID = "2026-11-26T05:01:16:752440"
VERSION = "1.38.0"
DESCRIPTION = "sandbox charges remember the merchant reference"


async def forwards():
    manager = MigrationManager(
        migration_id=ID, app_name="mall", description=DESCRIPTION
    )

    manager.add_column(
        table_class_name="SandboxCharge",
        tablename="sandbox_charge",
        column_name="merchant_reference",
        db_column_name="merchant_reference",
        column_class_name="Varchar",
        column_class=Varchar,
        params={
            "length": 40,
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
