"""Retention's and sign-in's times are `timestamptz` (they were epoch seconds and ISO text):
retained records, failed sign-ins, the sign-in funnel. Rows included."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns import DoublePrecision, Serial, Timestamptz, Varchar

from adapters.persistence.columns import Json
from adapters.persistence.retype import convert_in

ID = "2026-12-02T07:55:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "Retained records, failed sign-ins and the sign-in funnel keep timestamptz"


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="mall", description=DESCRIPTION)
    convert_in(manager, "RetainedRecord", "retained_record", {
        "id": Varchar(length=40, primary_key=True),
        "record_class": Varchar(length=40),
        "subject": Varchar(length=40, index=True),
        "jurisdiction": Varchar(length=16),
        "payload": Json(),
        "created_at": Timestamptz(),
        "retain_until": Timestamptz(index=True),
    }, {
        "created_at": ("iso", Varchar(length=40)),
        "retain_until": ("epoch", DoublePrecision(index=True)),
    })
    convert_in(manager, "LoginFailure", "login_failure", {
        "id": Serial(primary_key=True),
        "customer_id": Varchar(length=40, index=True),
        "at": Timestamptz(index=True),
    }, {
        "at": ("epoch", DoublePrecision(index=True)),
    })
    convert_in(manager, "AuthEvent", "auth_event", {
        "id": Serial(primary_key=True),
        "at": Timestamptz(index=True),
        "name": Varchar(length=40),
        "provider": Varchar(length=40),
        "channel": Varchar(length=64),
        "campaign": Varchar(length=64),
        "reason": Varchar(length=64),
        "flow": Varchar(length=64),
        "anon_id": Varchar(length=40),
    }, {
        "at": ("epoch", DoublePrecision(index=True)),
    })
    return manager
