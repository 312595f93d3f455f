"""Every hot query finds its rows through an index: over 100k seeded rows a table, the SQL the
repositories send for a request, a webhook, the outbox relay and sweep, reconciliation,
expiry, retention or a page of a list is EXPLAINed (run, then rolled back), and the test
fails, naming the query, on a sequential scan of a table bigger than a few pages or on a
scan that reads and drops over a thousand rows (an index that does not fit the query).
PostgreSQL only: its planner is the one production runs."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest

from adapters.persistence.engine import migrate
from adapters.persistence.uow import PiccoloUnitOfWorkFactory
from application.ports import UnitOfWork
from tests.fakes import FakeClock
from tests.integration.hot_query_rows import seed
from tests.sql_statements import count_statements

pytestmark = [pytest.mark.postgres, pytest.mark.timeout(180)]

NOW = datetime.now(UTC).replace(microsecond=0)
DAY = timedelta(days=1)
PAGES = 8  # a table this small is read whole faster than through an index
WASTE = 1_000  # rows a scan may read and drop: more means the index does not fit

HOT: dict[str, Callable[[UnitOfWork], Awaitable[Any]]] = {
    # a purchase and its payment
    "fraud velocity: failed payments of a customer": lambda u: u.payments.failures_of_customer(
        "cus_42", NOW - DAY),
    "fraud velocity: failed sign-ins of a customer": lambda u: (
        u.customers.login_failures_since("cus_42", NOW - DAY)),
    "fraud screening: review and failures of the day": lambda u: u.reviews.screening(
        "ord_42", "cus_42", NOW - DAY),
    "fraud model: latest paid orders": lambda u: u.orders.paid_totals(limit=20_000),
    "payments of an order, with their events": lambda u: u.payments.of_order("ord_42"),
    "payment by provider reference (webhook)": lambda u: u.payments.by_reference(
        "sandbox", "ref_42"),
    "operation of a subject": lambda u: u.operations.by_subject("payment:pay_42"),
    "shipments of an order": lambda u: u.shipments.of_order("ord_42"),
    "a shipment with its order": lambda u: u.shipments.with_order("shp_42"),
    "shipment by tracking number (webhook)": lambda u: u.shipments.by_tracking(
        "sandbox", "trk_42"),
    "incidents of an order": lambda u: u.incidents.of_subject("order:ord_42"),
    "evidence of an order": lambda u: u.evidence.of_subject("order:ord_42", 50),
    # the sweep and reconciliation
    "payments waiting on the customer": lambda u: u.payments.waiting_on_customer(
        NOW - timedelta(minutes=30), 100),
    "unsettled payments": lambda u: u.payments.unsettled(NOW - timedelta(minutes=15), 100),
    "unfinished outbox messages": lambda u: u.messages.outbox.unfinished(60, 100),
    "unprocessed inbox messages": lambda u: u.messages.inbox.unprocessed(60, 100),
    "fraud reviews pending": lambda u: u.reviews.pending(50),
    # pages and sign-in
    "a customer's orders, first page": lambda u: u.orders.of_customer("cus_42", 20),
    "a customer's orders, next page": lambda u: u.orders.of_customer(
        "cus_42", 20, before=(NOW - timedelta(days=30)).isoformat()),
    "session by refresh token": lambda u: u.sign_ins.sessions.by_refresh("0" * 32),
    "revoking a session family": lambda u: u.sign_ins.sessions.revoke_family("fam_21"),
    "revoking a customer's sessions": lambda u: u.sign_ins.sessions.revoke_customer("cus_42"),
    "identity links of a customer": lambda u: u.customers.identities.of_customer("cus_42"),
    "consents of a customer": lambda u: u.customers.consents.of_customer("cus_42"),
    "sign-in funnel of an hour": lambda u: u.sign_ins.events.between(
        (NOW - timedelta(hours=1)).timestamp(), NOW.timestamp()),
    # expiry and retention
    "expired idempotency keys": lambda u: u.idempotency.purge_expired(NOW),
    "expired sign-in flows": lambda u: u.sign_ins.flows.purge(NOW - DAY),
    "retained records past retention": lambda u: u.privacy.purge_retained(NOW),
    "access logs past retention": lambda u: u.privacy.purge_access_logs(
        "default", NOW - timedelta(days=29)),
    "finished work past retention": lambda u: u.privacy.purge_finished_work(
        NOW - timedelta(days=30)),
    "sign-in leftovers": lambda u: u.privacy.purge_sign_in_leftovers(NOW - DAY),
    # privacy requests
    "export of a customer": lambda u: u.privacy.export("cus_42"),
    "erasure of a customer": lambda u: u.privacy.erase("cus_42", "anon_42"),
    "merge of two customers": lambda u: u.privacy.merge("cus_43", "cus_44"),
}

# Searched by their text, which no B-tree index can serve: an erasure looks for the customer
# in every outbox payload (a rare request, bounded by retention's 30 days of messages).
SCANNED_ON_PURPOSE = ("CAST(payload AS TEXT) LIKE",)


@pytest.fixture
def engine_name() -> str:
    return "postgres"


def _scans(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    if "Relation Name" in plan and plan["Node Type"] != "ModifyTable":
        yield plan
    for child in plan.get("Plans", []):
        yield from _scans(child)


async def _plan(connection: asyncpg.Connection, sql: str, args: list[Any]) -> dict[str, Any]:
    """The plan the statement ran with, its rows counted; what it changed is rolled back."""
    transaction = connection.transaction()
    await transaction.start()
    try:
        [explained] = json.loads(await connection.fetchval(
            f"EXPLAIN (ANALYZE, FORMAT JSON) {sql}", *args))
    finally:
        await transaction.rollback()
    return dict(explained["Plan"])


def _index(scan: dict[str, Any]) -> str:
    """The index a scan reads, a bitmap scan's included."""
    children = [child.get("Index Name", "") for child in scan.get("Plans", [])]
    return str(scan.get("Index Name") or " ".join(filter(None, children)))


def _dropped(scan: dict[str, Any]) -> int:
    removed = scan.get("Rows Removed by Filter", 0) + scan.get("Rows Removed by Index Recheck", 0)
    return int(removed * scan.get("Actual Loops", 1))


def _problems(name: str, sql: str, scans: list[dict[str, Any]], pages: dict[str, int]) -> list[str]:
    found = []
    for scan in scans:
        table = scan["Relation Name"]
        if scan["Node Type"] == "Seq Scan" and pages[table] > PAGES:
            found.append(f"{name}: Seq Scan on {table} ({pages[table]} pages)")
        elif _dropped(scan) > WASTE:
            found.append(f"{name}: {scan['Node Type']} on {table} {_index(scan)} "
                         f"drops {_dropped(scan)} rows")
    return [f"{problem} in {sql[:200]}" for problem in found]


async def test_the_hot_queries_use_an_index_over_100k_rows(container: Any) -> None:
    engine = container.engine()
    await migrate(engine)
    connection = await asyncpg.connect(**engine.config)
    try:
        await seed(connection, NOW)
        pages = {row["relname"]: row["relpages"] for row in await connection.fetch(
            "SELECT relname, relpages FROM pg_class WHERE relkind = 'r'")}
        uow = PiccoloUnitOfWorkFactory(engine, FakeClock(NOW))
        problems: list[str] = []
        for name, query in HOT.items():
            with count_statements() as seen:
                async with uow() as u:  # never committed: what a query changes rolls back
                    await query(u)
            assert seen.querystrings, f"{name}: no statement seen (is it still piccolo's?)"
            for querystring in seen.querystrings:
                sql, args = querystring.compile_string(engine_type="postgres")
                if sql.startswith("INSERT") or any(s in sql for s in SCANNED_ON_PURPOSE):
                    continue
                scans = list(_scans(await _plan(connection, sql, args)))
                print(f"{name}: " + ", ".join(  # shown with -s, to compare plans
                    f"{s['Node Type']} {_index(s)} on {s['Relation Name']} "
                    f"({_dropped(s)} dropped)" for s in scans))
                problems += _problems(name, sql, scans, pages)
    finally:
        await connection.close()
    assert not problems, "\n".join(dict.fromkeys(problems))
