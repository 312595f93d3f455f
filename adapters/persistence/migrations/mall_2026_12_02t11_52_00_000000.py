"""Indexes for the hot queries (tests/integration/test_hot_queries.py EXPLAINs them over 100k
rows a table): a customer's failed payments and pages of orders, payments and messages due
for the sweep, the latest paid orders, what retention and erasure find by time or customer.

Piccolo's columns index one column each, so the indexes on two columns are SQL of their own,
the same on both engines; each replaces the single-column index it starts with."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns import Timestamptz, Varchar
from piccolo.columns.base import Column
from piccolo.engine.finder import engine_finder

ID = "2026-12-02T11:52:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "Indexes for the hot queries"

# (class name, table name, column name, the column, indexed from now on)
SINGLE: list[tuple[str, str, str, Column, bool]] = [
    ("Order", "orders", "created_at", Timestamptz(), True),
    ("PendingLink", "pending_link", "created_at", Timestamptz(), True),
    ("AuthFlow", "auth_flow", "customer_id", Varchar(length=40, default=None, null=True), True),
    ("IdempotencyKey", "idempotency_key", "customer_id", Varchar(length=40), True),
    ("Operation", "operation", "customer_id", Varchar(length=40), True),
    ("FraudReview", "fraud_review", "customer_id", Varchar(length=40), True),
    # Each led by the same column as a new index on two below.
    ("Order", "orders", "customer_id", Varchar(length=40), False),
    ("Payment", "payment", "created_at", Timestamptz(), False),
    ("OutboxMessage", "outbox_message", "status", Varchar(length=16), False),
    ("InboxMessage", "inbox_message", "status", Varchar(length=16), False),
]

PAIRS: dict[str, tuple[str, str, str]] = {
    "orders_customer_id_created_at": ("orders", "customer_id", "created_at"),
    "payment_customer_id_created_at": ("payment", "customer_id", "created_at"),
    "payment_status_created_at": ("payment", "status", "created_at"),
    "outbox_message_status_created_at": ("outbox_message", "status", "created_at"),
    "inbox_message_status_received_at": ("inbox_message", "status", "received_at"),
}


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="mall", description=DESCRIPTION)

    async def create_pairs() -> None:
        engine = engine_finder()  # the one whose transaction the runner opened
        if engine is None:
            raise RuntimeError("piccolo finds no database engine: is PICCOLO_CONF set?")
        for name, (table, first, second) in PAIRS.items():
            await engine.run_ddl(
                f"CREATE INDEX IF NOT EXISTS {name} ON {table} ({first}, {second})")

    manager.add_raw(create_pairs)
    for class_name, tablename, name, column, indexed in SINGLE:
        manager.alter_column(
            table_class_name=class_name, tablename=tablename, column_name=name,
            db_column_name=name, params={"index": indexed}, old_params={"index": not indexed},
            column_class=type(column), old_column_class=type(column), schema=None,
        )
    return manager
