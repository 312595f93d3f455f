"""The dev mailbox keeps what the sandbox would have sent in the database, so the mailbox
page, a worker process and a restart all see the same messages."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns import Boolean, Text, Timestamptz, Varchar
from piccolo.columns.base import Column

from adapters.persistence.columns import Json

ID = "2026-12-02T15:55:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "The dev mailbox's messages"

COLUMNS: dict[str, Column] = {
    "id": Varchar(length=40, primary_key=True),
    "message_id": Varchar(length=120),
    "channel": Varchar(length=8),
    "recipient": Varchar(length=512, index=True),
    "template": Varchar(length=64, default=""),
    "subject": Text(default=""),
    "text": Text(default=""),
    "html": Text(default=""),
    "promotional": Boolean(default=False),
    "data": Json(default="{}"),
    "sent_at": Timestamptz(index=True),
}


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="mall", description=DESCRIPTION)
    manager.add_table(class_name="MailboxMessage", tablename="mailbox_message", schema=None,
                      columns=None)
    for name, column in COLUMNS.items():
        manager.add_column(
            table_class_name="MailboxMessage", tablename="mailbox_message", column_name=name,
            db_column_name=name, column_class_name=type(column).__name__,
            column_class=type(column), params=column._meta.params, schema=None,
        )
    return manager
