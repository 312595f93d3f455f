"""Sign-in flows', pending links' and sessions' times are `timestamptz` (they were ISO-8601
text), rows included: what expires and what retention clears is decided on times."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns import Boolean, Timestamptz, Varchar

from adapters.persistence.retype import convert_in

ID = "2026-12-02T08:05:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "Sign-in flows, pending links and sessions keep their times as timestamptz"


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="mall", description=DESCRIPTION)
    convert_in(manager, "AuthFlow", "auth_flow", {
        "state_hash": Varchar(length=64, primary_key=True),
        "provider": Varchar(length=40),
        "purpose": Varchar(length=16),
        "nonce": Varchar(length=128),
        "code_verifier": Varchar(length=128),
        "redirect_uri": Varchar(length=500),
        "customer_id": Varchar(length=40, default=None, null=True),
        "channel": Varchar(length=64),
        "campaign": Varchar(length=64),
        "created_at": Timestamptz(index=True),
        "used": Boolean(),
        "browser_hash": Varchar(length=64),
        "session_id": Varchar(length=40, default=None, null=True),
    }, {
        "created_at": ("iso", Varchar(length=40, index=True)),
    })
    convert_in(manager, "PendingLink", "pending_link", {
        "token_hash": Varchar(length=64, primary_key=True),
        "customer_id": Varchar(length=40, index=True),
        "provider": Varchar(length=40),
        "subject": Varchar(length=255),
        "email": Varchar(length=254),
        "created_at": Timestamptz(),
        "used": Boolean(),
    }, {
        "created_at": ("iso", Varchar(length=40)),
    })
    convert_in(manager, "AuthSession", "auth_session", {
        "id": Varchar(length=40, primary_key=True),
        "customer_id": Varchar(length=40, index=True),
        "family_id": Varchar(length=40, index=True),
        "refresh_hash": Varchar(length=64, unique=True),
        "created_at": Timestamptz(),
        "expires_at": Timestamptz(),
        "status": Varchar(length=16),
        "replaced_by": Varchar(length=40, default=None, null=True),
    }, {
        "created_at": ("iso", Varchar(length=40)),
        "expires_at": ("iso", Varchar(length=40)),
    })
    return manager
