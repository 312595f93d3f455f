"""Migrations on each engine: a database of the old migrations adopted with its rows, one
too old refused, and columns retyped to timestamptz with their rows."""

from __future__ import annotations

import contextlib
import importlib
import io
import json
import subprocess
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import asyncpg
import pytest
from piccolo.apps.migrations.tables import Migration
from piccolo.querystring import QueryString

from adapters.clock import SystemClock
from adapters.persistence import repositories as r
from adapters.persistence.periodic import PiccoloPeriodicRuns
from adapters.persistence.tables import EvidenceHead, InboxMessage, OutboxMessage
from adapters.persistence.uow import PiccoloUnitOfWorkFactory
from application.ports import IdempotencyRecord
from domain.evidence import GENESIS, EvidenceDraft
from tests.conftest import POSTGRES_URL, need
from tests.evidence_rows import append_sealed
from tests.fakes import FakeClock

OLD_MIGRATIONS_AT = "3ec0b7d"
OLD_FOLDER = "adapters/persistence/migrations"


@pytest.fixture
def old_migrations(tmp_path: Path) -> Path:
    root = Path(__file__).resolve().parents[2]

    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True,
                              check=True).stdout

    try:
        names = git("ls-tree", "--name-only", OLD_MIGRATIONS_AT, f"{OLD_FOLDER}/").split()
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("the old migrations are read from git history, which this checkout lacks")
    folder = tmp_path / "old_migrations"
    folder.mkdir()
    for name in names:
        source = git("show", f"{OLD_MIGRATIONS_AT}:{name}")
        # Their own module names: nothing to share with the baseline's imports.
        (folder / f"old_{Path(name).name}").write_text(source)
    return folder


@pytest.fixture
async def empty_database(engine_name: str, tmp_path: Path) -> AsyncIterator[str]:
    """A database URL ("" for SQLite, whose file is tmp_path/mall.sqlite) with nothing in it."""
    if engine_name == "sqlite":
        yield ""
        return
    need("PostgreSQL", POSTGRES_URL, 5432)
    name = f"mall_old_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(POSTGRES_URL)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        yield urlparse(POSTGRES_URL)._replace(path=f"/{name}").geturl()
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


async def _run_old_migrations(engine: Any, folder: Path, up_to: str,
                              monkeypatch: pytest.MonkeyPatch) -> None:
    from piccolo.apps.migrations.commands.forwards import run_forwards

    from adapters.persistence.engine import use_engine
    from adapters.persistence.piccolo_app import APP_CONFIG

    use_engine(engine)
    with monkeypatch.context() as patch:
        patch.setattr(APP_CONFIG, "migrations_folder_path", str(folder))
        with contextlib.redirect_stdout(io.StringIO()):
            result = await run_forwards(app_name="mall", migration_id=up_to, fake=False)
    assert result.success, result.message
    await EvidenceHead.insert(EvidenceHead(id=1, seq=0, head_hash=GENESIS))  # as migrate() did


@pytest.mark.parametrize("stopped_at", ["2026-11-26T08:17:22:799826", "all"])
async def test_a_database_of_the_old_migrations_keeps_its_rows_under_the_baseline(
    settings_factory: Any, empty_database: str, old_migrations: Path, stopped_at: str,
    engine_name: str, monkeypatch: pytest.MonkeyPatch,
) -> None:
    import bootstrap
    from adapters.persistence.engine import migrate
    from adapters.persistence.squashed import BASELINE
    from adapters.persistence.tables import Customer as CustomerRow
    from adapters.persistence.tables import Order as OrderRow

    container = bootstrap.build(settings_factory(database_url=empty_database))
    engine = container.engine()
    await _run_old_migrations(engine, old_migrations, stopped_at, monkeypatch)
    # Rows written by the code of the old schema: JSON as text, a mixed-case address.
    await CustomerRow.raw(
        "INSERT INTO customer (id, email, password_hash, role, created_at, identity_verified, "
        "email_verified, jurisdiction) VALUES ('cus_old', 'Old@Example.COM', 'h', 'customer', "
        "'2026-11-30T10:00:00+00:00', false, true, 'default')")
    await OrderRow.raw(
        "INSERT INTO orders (id, customer_id, currency, status, carrier, note, lines, "
        "shipping_address, created_at, total, held_for_review) VALUES ('ord_old', 'cus_old', "
        "'KRW', 'paid', 'sandbox', '', {}, {}, '2026-11-30T10:00:01+00:00', 1000, false)",
        json.dumps([{"sku": "s", "title": "T", "seller_id": "x", "quantity": 2,
                     "unit_price": 500}]),
        json.dumps({"recipient": "R", "line1": "L", "line2": "", "city": "C",
                    "postal_code": "1", "country": "KR"}))
    message_id = "obx_old"
    await OutboxMessage.raw(
        "INSERT INTO outbox_message (id, topic, payload, status, attempts, created_at, "
        "available_at) VALUES ({}, 'notify', {}, 'pending', 0, {}, {})",
        message_id, json.dumps({"customer_id": "cus_old"}), 1796000000.25, 1796000000.25)
    async with container.uow()() as u:
        await append_sealed(EvidenceDraft("test", "note", "order:ord_old", {"n": 1},
                                          {"body": "before the baseline"}))
        await u.commit()

    await migrate(engine)
    await migrate(engine)  # and again: nothing left to do

    ran = await Migration.get_migrations_which_ran(app_name="mall")
    assert importlib.import_module(BASELINE).ID in ran
    async with container.uow()() as u:
        customer = await u.customers.get("cus_old")
        # Lower-cased by the old migration the database had not run yet, if it had not.
        lowered = "Old@Example.COM" if stopped_at == "all" else "old@example.com"
        assert customer is not None and customer.email == lowered
        order = await u.orders.get("ord_old")
        assert order is not None and order.total.amount == 1000
        assert order.shipping_address.country == "KR"
        assert order.created_at == datetime(2026, 11, 30, 10, 0, 1, tzinfo=UTC)
        # The page cursor compares times: strictly before, to the microsecond.
        assert await u.orders.of_customer("cus_old", 10, before=order.created_at.isoformat()) == []
        assert [o.id for o in await u.orders.of_customer(
            "cus_old", 10, before="2026-11-30T10:00:01.000001+00:00")] == ["ord_old"]
        claimed = await u.messages.outbox.claim(message_id, 30)
        assert claimed is not None and claimed.payload == {"customer_id": "cus_old"}
        # The columns and tables the later old migrations added are there.
        assert await u.idempotency.reserve(IdempotencyRecord(
            "cus_old", "k", "a" * 64, "in_flight", None, None,
            datetime.now(UTC) + timedelta(hours=1), "POST /v1/orders")) is None
        await u.commit()
    assert await PiccoloPeriodicRuns(SystemClock()).claim("sweep", datetime(2031, 1, 1, tzinfo=UTC))
    report = await container.evidence().verify()
    assert report.ok and report.checked == 1
    if engine_name == "postgres":
        types = await engine.run_querystring(QueryString(
            "SELECT data_type FROM information_schema.columns WHERE table_name = 'orders' "
            "AND column_name = 'lines'"))
        assert [dict(row) for row in types] == [{"data_type": "jsonb"}]


async def test_a_database_older_than_the_old_migrations_is_refused_untouched(
    settings_factory: Any, empty_database: str, old_migrations: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import bootstrap
    from adapters.persistence.engine import migrate
    from adapters.persistence.squashed import TooOldDatabase

    container = bootstrap.build(settings_factory(database_url=empty_database))
    engine = container.engine()
    await _run_old_migrations(engine, old_migrations, "2026-11-26T03:52:06:940320", monkeypatch)
    with pytest.raises(TooOldDatabase, match="2026-11-26T05:01:16:752440"):
        await migrate(engine)
    assert await Migration.get_migrations_which_ran(app_name="mall") == [
        "2026-11-26T03:52:06:940320"]


async def test_times_become_timestamptz_with_their_rows(
    settings_factory: Any, empty_database: str, monkeypatch: pytest.MonkeyPatch,
) -> None:
    import bootstrap
    from adapters.persistence.engine import migrate
    from adapters.persistence.piccolo_app import APP_CONFIG
    from adapters.persistence.squashed import BASELINE
    from adapters.persistence.tables import (
        LoginFailure,
        PeriodicRun,
        RetainedRecord,
        SandboxCharge,
        SandboxParcel,
    )

    container = bootstrap.build(settings_factory(database_url=empty_database))
    engine = container.engine()
    baseline = importlib.import_module(BASELINE).ID
    await _run_old_migrations(engine, Path(APP_CONFIG.migrations_folder_path), baseline,
                              monkeypatch)
    start = datetime(2026, 12, 2, 7, 0, 30, 250000, tzinfo=UTC)
    await PeriodicRun.raw(
        "INSERT INTO periodic_run (id, job, period_start, holder, started_at, finished_at, "
        "outcome) VALUES ('sweep@x', 'sweep', {}, 'h:1', {}, NULL, 'running')",
        start.timestamp(), start.timestamp() + 0.5)
    await OutboxMessage.raw(
        "INSERT INTO outbox_message (id, topic, payload, status, attempts, created_at, "
        "available_at) VALUES ('obx_old', 'SendNotification', {}, 'pending', 0, {}, {})",
        "{}", start.timestamp(), start.timestamp())
    await InboxMessage.raw(
        "INSERT INTO inbox_message (id, dedupe_key, provider, event_id, kind, payload, status, "
        "received_at, available_at) VALUES ('ibx_old', 'p:e', 'p', 'e', 'k', {}, "
        "'received', {}, {})", "{}", start.timestamp(), start.timestamp())
    await LoginFailure.raw("INSERT INTO login_failure (id, customer_id, at) VALUES (7, 'c', {})",
                           start.timestamp())
    await RetainedRecord.raw(
        "INSERT INTO retained_record (id, record_class, subject, jurisdiction, payload, "
        "created_at, retain_until) VALUES ('ret_1', 'complaints', 'anon_1', 'KR', {}, {}, {})",
        "{}", start.isoformat(), (start + timedelta(days=1095)).timestamp())
    await PeriodicRun.raw(
        "INSERT INTO auth_session (id, customer_id, family_id, refresh_hash, created_at, "
        "expires_at, status) VALUES ('ses_1', 'c', 'fam_1', 'r', {}, {}, 'active')",
        start.isoformat(), (start + timedelta(days=30)).isoformat())
    await SandboxCharge.raw(
        "INSERT INTO sandbox_charge (idempotency_key, reference, status, amount, currency, "
        "scenario, order_id, merchant_reference, capture_method, created_at, refunds, "
        "disputes) VALUES ('k1', 'sbx_1', 'succeeded', 1000, 'KRW', 'success', 'ord_1', "
        "'pay_1', 'automatic', {}, '[]', '[]')", start.timestamp())
    await SandboxParcel.raw(
        "INSERT INTO sandbox_parcel (idempotency_key, tracking_number, scenario, order_id, "
        "created_at) VALUES ('k1', 'SBX1', 'normal', 'ord_1', {})", start.timestamp())

    await migrate(engine)

    row = await PeriodicRun.select().where(PeriodicRun.id == "sweep@x").first()
    assert row["period_start"] == start
    assert row["started_at"] == start + timedelta(seconds=0.5)
    assert row["finished_at"] is None and row["outcome"] == "running"
    runs = PiccoloPeriodicRuns(FakeClock(start + timedelta(days=2)))
    assert await runs.claim("sweep", start + timedelta(days=2))  # and purges the old row
    assert await PeriodicRun.count().where(PeriodicRun.id == "sweep@x") == 0
    charge = await SandboxCharge.select().first()
    assert (charge["reference"], charge["amount"], charge["created_at"]) == ("sbx_1", 1000, start)
    parcel = await SandboxParcel.select().first()
    assert (parcel["tracking_number"], parcel["created_at"]) == ("SBX1", start)
    failure = await LoginFailure.select().first()
    assert (failure["id"], failure["at"]) == (7, start)
    async with PiccoloUnitOfWorkFactory(engine, FakeClock(start))() as u:
        assert await u.customers.login_failures_since("c", start) == 1
        assert await u.customers.login_failures_since("c", start + timedelta(seconds=1)) == 0
        [kept] = await u.privacy.retained("anon_1")
        assert kept["created_at"] == start.isoformat()
        assert kept["retain_until"] == (start + timedelta(days=1095)).timestamp()
        assert await u.privacy.purge_retained(start + timedelta(days=1094)) == 0
        assert await u.privacy.purge_retained(start + timedelta(days=1095)) == 1
        session = await u.sign_ins.sessions.get("ses_1")
        assert session is not None
        assert (session.created_at, session.expires_at) == (start, start + timedelta(days=30))
        [exported] = (await u.privacy.export("c"))["sessions"]
        assert exported["expires_at"] == (start + timedelta(days=30)).isoformat()
    later = PiccoloUnitOfWorkFactory(engine, FakeClock(start + timedelta(seconds=61)))
    async with later() as u:
        assert await u.messages.outbox.unfinished(older_than_seconds=60, limit=10) == ["obx_old"]
        assert await u.messages.inbox.unprocessed(older_than_seconds=60, limit=10) == ["ibx_old"]
        taken = await u.messages.inbox.claim("ibx_old")
        assert taken is not None and taken.received_at == start
    async with PiccoloUnitOfWorkFactory(engine, FakeClock(start + timedelta(seconds=59)))() as u:
        assert await u.messages.outbox.unfinished(older_than_seconds=60, limit=10) == []
    if engine.engine_type == "sqlite":
        indexes = await PeriodicRun.raw(
            "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'periodic_run'")
        assert "periodic_run_job" in {index["name"] for index in indexes}


# Rows as the code before timestamptz wrote them: times as ISO-8601 text. One is written
# with +09:00, where the text and the time sort differently.
TEXT_TIME_ROWS = [
    "INSERT INTO customer (id, email, password_hash, role, created_at, identity_verified, "
    "email_verified, jurisdiction) VALUES ('cus_t', 't@example.com', 'h', 'customer', "
    "'2026-11-30T10:00:00.250000+00:00', false, true, 'KR')",
    "INSERT INTO identity_link (dedupe_key, customer_id, provider, subject, email, "
    "email_verified, linked_at) VALUES ('p|late', 'cus_t', 'p', 'late', NULL, false, "
    "'2026-11-30T11:00:00+00:00')",
    "INSERT INTO identity_link (dedupe_key, customer_id, provider, subject, email, "
    "email_verified, linked_at) VALUES ('p|early', 'cus_t', 'p', 'early', NULL, false, "
    "'2026-11-30T19:00:00+09:00')",
    "INSERT INTO real_name_identity (customer_id, di_index, ci_ciphertext, key_id, "
    "verified_at, adult) VALUES ('cus_t', 'di', 'ci', 'k1', '2026-11-30T10:00:00+00:00', true)",
    "INSERT INTO consent (dedupe_key, customer_id, purpose, granted, updated_at) VALUES "
    "('cus_t|marketing', 'cus_t', 'marketing', true, '2026-11-30T10:00:00+00:00')",
    "INSERT INTO fraud_review (order_id, customer_id, score, reasons, status, opened_at, "
    "decided_at, decided_by, note) VALUES ('ord_late', 'cus_t', 0.9, '[]', 'pending', "
    "'2026-11-30T11:00:00+00:00', NULL, NULL, '')",
    "INSERT INTO fraud_review (order_id, customer_id, score, reasons, status, opened_at, "
    "decided_at, decided_by, note) VALUES ('ord_early', 'cus_t', 0.9, '[]', 'pending', "
    "'2026-11-30T19:00:00+09:00', NULL, NULL, '')",
    "INSERT INTO fraud_review (order_id, customer_id, score, reasons, status, opened_at, "
    "decided_at, decided_by, note) VALUES ('ord_done', 'cus_t', 0.9, '[]', 'approved', "
    "'2026-11-30T10:00:00+00:00', '2026-11-30T10:05:00+00:00', 'adm_1', '')",
    "INSERT INTO shipment (id, order_id, seller_id, carrier, status, tracking_number, "
    "last_event_at, history) VALUES ('shp_1', 'ord_done', 's', 'sandbox', 'in_transit', 'T1', "
    "'2026-11-30T12:00:00+00:00', '[]')",
    "INSERT INTO shipment (id, order_id, seller_id, carrier, status, tracking_number, "
    "last_event_at, history) VALUES ('shp_2', 'ord_done', 't', 'sandbox', 'requested', NULL, "
    "NULL, '[]')",
    "INSERT INTO operation (id, customer_id, kind, subject, status, message, result, "
    "created_at, updated_at) VALUES ('op_1', 'cus_t', 'export', 'exp_1', 'succeeded', '', "
    "NULL, '2026-11-30T10:00:00+00:00', '2026-11-30T10:00:30+00:00')",
    "INSERT INTO operation (id, customer_id, kind, subject, status, message, result, "
    "created_at, updated_at) VALUES ('op_2', 'cus_t', 'export', 'exp_2', 'pending', '', "
    "NULL, '2026-11-30T10:00:00+00:00', NULL)",
    "INSERT INTO notification_log (owner, channel, template, subject, sent_at) VALUES "
    "('cus_t', 'email', 'welcome', 'Welcome', '2026-11-30T10:00:00+00:00')",
]


async def test_text_times_become_timestamptz_with_their_rows(
    settings_factory: Any, empty_database: str, monkeypatch: pytest.MonkeyPatch,
) -> None:
    import bootstrap
    from adapters.persistence.engine import migrate
    from adapters.persistence.piccolo_app import APP_CONFIG
    from adapters.persistence.tables import Customer

    container = bootstrap.build(settings_factory(database_url=empty_database))
    engine = container.engine()
    await _run_old_migrations(engine, Path(APP_CONFIG.migrations_folder_path),
                              "2026-12-02T08:30:00:000000", monkeypatch)
    for statement in TEXT_TIME_ROWS:
        await Customer.raw(statement)
    await Customer.raw(
        "INSERT INTO incident (id, kind, subject, detail, status, opened_at) VALUES ('inc_1', "
        "'complaint', 'order:ord_done', {}, 'open', '2026-11-30T10:00:00+00:00')", "{}")
    async with container.uow()() as u:  # sealed over the text the ledger keeps
        await append_sealed(EvidenceDraft("test", "note", "order:ord_done", {"n": 1},
                                          {"body": "before timestamptz"}))
        await u.commit()

    await migrate(engine)

    # Straight through the repositories: each read is a statement of its own.
    at = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)
    clock = FakeClock(at)
    customer = await r.CustomerRepository().get("cus_t")
    assert customer is not None
    assert customer.created_at == at + timedelta(seconds=0.25)
    linked = await r.IdentityLinkRepository().of_customer("cus_t")  # by time, not by text
    assert [(i.subject, i.linked_at) for i in linked] == [
        ("early", at), ("late", at + timedelta(hours=1))]
    real_name = await r.RealNameRepository().of_customer("cus_t")
    assert real_name is not None and real_name["verified_at"] == at.isoformat()
    reviews = r.FraudReviewRepository()
    assert [review.order_id for review in await reviews.pending(10)] == [
        "ord_early", "ord_late"]
    done, late = await reviews.get("ord_done"), await reviews.get("ord_late")
    assert done is not None and late is not None
    assert (done.opened_at, done.decided_at) == (at, at + timedelta(minutes=5))
    assert late.decided_at is None
    moving, waiting = await r.ShipmentRepository().of_order("ord_done")
    assert moving.last_event_at == at + timedelta(hours=2)
    assert waiting.last_event_at is None
    operations = r.OperationRepository()
    finished, pending = await operations.get("op_1"), await operations.get("op_2")
    assert finished is not None and pending is not None
    assert (finished.created_at, finished.updated_at) == (at, at + timedelta(seconds=30))
    assert (pending.created_at, pending.updated_at) == (at, None)
    [incident] = await r.IncidentRepository(clock).of_subject("order:ord_done")
    assert incident["opened_at"] == at.isoformat()
    privacy = r.PrivacyRepository(clock)
    exported = await privacy.export("cus_t")
    assert exported["customer"]["created_at"] == "2026-11-30T10:00:00.250000+00:00"
    assert {i["subject"]: i["linked_at"] for i in exported["identities"]} == {
        "early": at.isoformat(), "late": (at + timedelta(hours=1)).isoformat()}
    assert exported["real_name_verification"]["verified_at"] == at.isoformat()
    assert [c["updated_at"] for c in exported["consents"]] == [at.isoformat()]
    assert [n["sent_at"] for n in exported["notifications"]] == [at.isoformat()]
    # Rows written from now on keep times too, beside the converted ones.
    clock.advance(days=1)
    await r.ConsentRepository(clock).set("cus_t", "marketing", False)
    await r.NotificationRepository(clock).log("cus_t", "email", "goodbye", "Goodbye")
    exported = await privacy.export("cus_t")
    assert exported["consents"] == [
        {"purpose": "marketing", "granted": False, "updated_at": clock.now().isoformat()}]
    assert sorted(n["sent_at"] for n in exported["notifications"]) == [
        at.isoformat(), clock.now().isoformat()]
    report = await container.evidence().verify()
    assert report.ok and report.checked == 1
