"""Promotional campaigns and their recipients: one recipient row per campaign and customer,
keyed by the message id the campaign sends them (`cmp:<campaign>:<customer>`), so nobody is
written down, or sent to, twice."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns import Boolean, Timestamptz, Varchar
from piccolo.columns.base import Column

from adapters.persistence.columns import Json

ID = "2026-12-02T16:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "Campaigns and campaign recipients"

TABLES: dict[tuple[str, str], dict[str, Column]] = {
    ("Campaign", "campaign"): {
        "id": Varchar(length=40, primary_key=True),
        "name": Varchar(length=120),
        "channel": Varchar(length=8),
        "template": Varchar(length=64),
        "params": Json(default="{}"),
        "audience": Json(default="{}"),
        "status": Varchar(length=16, index=True),
        "send_at": Timestamptz(null=True, default=None),
        "created_by": Varchar(length=40),
        "created_at": Timestamptz(index=True),
        "started_at": Timestamptz(null=True, default=None),
        "finished_at": Timestamptz(null=True, default=None),
        "audience_cursor": Varchar(length=40, default=""),
        "audience_built": Boolean(default=False),
        "lease_holder": Varchar(length=40, default=""),
        "lease_until": Timestamptz(null=True, default=None),
    },
    ("CampaignRecipient", "campaign_recipient"): {
        "id": Varchar(length=100, primary_key=True),
        "campaign_id": Varchar(length=40, index=True),
        "customer_id": Varchar(length=40, index=True),
        "channel": Varchar(length=8),
        "status": Varchar(length=16, index=True),
        "not_before": Timestamptz(null=True, default=None),
        "queued_at": Timestamptz(null=True, default=None, index=True),
        "outbox_id": Varchar(length=40, null=True, default=None),
        "settled_at": Timestamptz(null=True, default=None),
    },
}


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="mall", description=DESCRIPTION)
    for (class_name, tablename), columns in TABLES.items():
        manager.add_table(class_name=class_name, tablename=tablename, schema=None,
                          columns=None)
        for name, column in columns.items():
            manager.add_column(
                table_class_name=class_name, tablename=tablename, column_name=name,
                db_column_name=name, column_class_name=type(column).__name__,
                column_class=type(column), params=dict(column._meta.params), schema=None,
            )
    return manager
