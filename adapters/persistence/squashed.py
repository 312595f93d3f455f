"""Databases made by the migrations that the baseline replaced (2026-11-26 to 2026-12-02).

Such a database already holds every table, so the baseline is not run on it. Instead, in one
transaction: the steps of the old migrations it had not run yet, then the column types the
baseline changed (JSON becomes `jsonb` on PostgreSQL), then the baseline is recorded as
applied. Its rows stay as they are.
"""

from __future__ import annotations

import importlib
import logging
from typing import Any

from piccolo.apps.migrations.tables import Migration
from piccolo.engine.base import Engine

from adapters.persistence.columns import Json

BASELINE = "adapters.persistence.migrations.mall_2026_12_02t07_23_20_000000"

# Up to the last of these, a database is one this code can bring forward.
REQUIRED = (
    "2026-11-26T03:52:06:940320", "2026-11-26T05:01:16:752440",
    "2026-11-26T06:36:36:602652", "2026-11-26T07:02:50:900033",
)
LOWER_EMAILS = "2026-12-02T07:10:00:000000"
# The later old migrations, each as SQL that does what it did (the same on both engines).
LATER: dict[str, list[str]] = {
    "2026-11-26T07:38:14:750262": [
        "ALTER TABLE auth_flow ADD COLUMN browser_hash VARCHAR(64) NOT NULL DEFAULT ''"],
    "2026-11-26T08:17:22:799826": [
        "ALTER TABLE auth_flow ADD COLUMN session_id VARCHAR(40) DEFAULT null"],
    "2026-12-02T06:36:05:972752": [
        "CREATE TABLE periodic_run (id VARCHAR(120) PRIMARY KEY NOT NULL DEFAULT '', "
        "job VARCHAR(64) NOT NULL DEFAULT '', period_start DOUBLE PRECISION NOT NULL "
        "DEFAULT 0.0, holder VARCHAR(120) NOT NULL DEFAULT '', started_at DOUBLE PRECISION "
        "NOT NULL DEFAULT 0.0, finished_at DOUBLE PRECISION DEFAULT null, "
        "outcome VARCHAR(16) NOT NULL DEFAULT 'running')",
        "CREATE INDEX periodic_run_job ON periodic_run (job)"],
    "2026-12-02T06:36:48:384220": [
        "ALTER TABLE idempotency_key ADD COLUMN request_target TEXT DEFAULT null"],
    "2026-12-02T06:36:54:865247": [
        "ALTER TABLE sandbox_charge ADD COLUMN capture_method VARCHAR(16) NOT NULL "
        "DEFAULT 'automatic'"],
    # Email addresses unique case-insensitively; one that would collide keeps its case.
    LOWER_EMAILS: [
        "UPDATE customer SET email = lower(email) WHERE email <> lower(email) AND NOT EXISTS "
        "(SELECT 1 FROM customer other WHERE other.email = lower(customer.email))"],
}

log = logging.getLogger("mall.migrations")
NUL_ESCAPE = "\\u0000"  # how our JSON text wrote U+0000


class TooOldDatabase(RuntimeError):
    pass


async def adopt(engine: Engine[Any]) -> bool:
    """Bring a database of the old migrations to the baseline and record the baseline as
    run; False when the database is new or already past the baseline."""
    if not await Migration.table_exists():
        return False
    baseline: Any = importlib.import_module(BASELINE)
    ran = set(await Migration.get_migrations_which_ran(app_name="mall"))
    if baseline.ID in ran or REQUIRED[0] not in ran:
        return False
    missing = [migration for migration in REQUIRED if migration not in ran]
    if missing:
        raise TooOldDatabase(
            f"this database stopped at an old migration and lacks {', '.join(missing)}; "
            "run `mall migrate` of a release from 2026-11-26 to 2026-12-02 on it first, "
            "then this one (nothing was changed)")
    async with engine.transaction():
        for migration, statements in LATER.items():
            if migration not in ran:
                for statement in statements:
                    await engine.run_ddl(statement)
        if engine.engine_type == "postgres":
            altered = await Migration.raw(
                "SELECT seq FROM evidence_record WHERE strpos(payload, {}) > 0 "
                "OR strpos(context, {}) > 0 ORDER BY seq", NUL_ESCAPE, NUL_ESCAPE)
            await _json_to_jsonb(engine, baseline.SCHEMA)
            if altered:
                log.warning(
                    "evidence records %s held U+0000, which jsonb cannot keep: it is U+FFFD "
                    "now, and verifying the ledger reports the first of them as altered",
                    ", ".join(str(row["seq"]) for row in altered))
        await Migration.insert(Migration(name=baseline.ID, app_name="mall"))
    if LOWER_EMAILS in ran:
        return True
    left = await Migration.raw("SELECT count(*) AS n FROM customer WHERE email <> lower(email)")
    if left and left[0]["n"]:
        log.warning("%d accounts differ from another only by the case of their email; merge "
                    "them (POST /v1/me/merge) so each address has one account", left[0]["n"])
    return True


async def _json_to_jsonb(
    engine: Engine[Any], schema: dict[tuple[str, str], dict[str, Any]]
) -> None:
    # Plain DDL through the engine (in the transaction): no parameters, no placeholders.
    for (_, table), columns in schema.items():
        for name, column in columns.items():
            if not isinstance(column, Json):
                continue
            await engine.run_ddl(f'ALTER TABLE {table} ALTER COLUMN "{name}" DROP DEFAULT')
            # jsonb keeps no U+0000 (written by our JSON as an escape): it becomes U+FFFD.
            await engine.run_ddl(
                f'ALTER TABLE {table} ALTER COLUMN "{name}" TYPE jsonb '
                f"USING replace(\"{name}\", '\\u0000', '\\ufffd')::jsonb")
            default = column._meta.params["default"]
            if default is not None:
                assert default in ("{}", "[]")  # a literal, as DDL takes no parameters
                await engine.run_ddl(
                    f"ALTER TABLE {table} ALTER COLUMN \"{name}\" SET DEFAULT '{default}'")
