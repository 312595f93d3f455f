"""Email addresses are unique case-insensitively: stored addresses become lower case (an
address that would collide with another account's keeps its case and is reported)."""

import logging

from piccolo.apps.migrations.auto.migration_manager import MigrationManager

ID = "2026-12-02T07:10:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "Email addresses in lower case"

LOWER_EMAILS = """
UPDATE customer SET email = lower(email)
WHERE email <> lower(email)
  AND NOT EXISTS (SELECT 1 FROM customer other WHERE other.email = lower(customer.email))
"""
COLLISIONS = """
SELECT count(*) AS n FROM customer WHERE email <> lower(email)
"""


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="mall", description=DESCRIPTION)

    async def lower_emails():
        from adapters.persistence.tables import Customer

        await Customer.raw(LOWER_EMAILS)
        left = await Customer.raw(COLLISIONS)
        if left and left[0]["n"]:
            logging.getLogger("mall.migrations").warning(
                "%d accounts differ from another only by the case of their email; merge "
                "them (POST /v1/me/merge) so each address has one account", left[0]["n"])

    manager.add_raw(lower_emails)
    return manager
