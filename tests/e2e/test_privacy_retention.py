"""Retention by jurisdiction: what no rule keeps any more is deleted."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from adapters.persistence import tables as t
from tests.e2e import privacy_steps as privacy

pytestmark = pytest.mark.timeout(90)


async def test_retention_deletes_what_no_rule_keeps_any_more(shop: Any) -> None:
    kr = await privacy.register(shop, f"kr.{uuid.uuid4().hex[:8]}@example.com", country="KR")
    eu = await privacy.register(shop, f"eu.{uuid.uuid4().hex[:8]}@example.com", country="FR")
    kr_id, eu_id = (await privacy.me(shop, kr))["id"], (await privacy.me(shop, eu))["id"]
    now = time.time()

    async def failure(customer_id: str, days_ago: float) -> None:
        await t.LoginFailure.insert(t.LoginFailure(
            customer_id=customer_id, at=datetime.fromtimestamp(now - days_ago * privacy.DAY, UTC)))

    async def retained(record_id: str, retain_until: float) -> None:
        await t.RetainedRecord.insert(t.RetainedRecord(
            id=record_id, record_class="payment_records", subject="anon_x", jurisdiction="KR",
            payload="{}", created_at=datetime.now(UTC),
            retain_until=datetime.fromtimestamp(retain_until, UTC)))

    # KR keeps access logs 90 days, EU 180.
    for days_ago in (1, 89, 91, 400):
        await failure(kr_id, days_ago)
    for days_ago in (1, 91, 179, 181):
        await failure(eu_id, days_ago)
    await retained("ret_past", now - privacy.DAY)
    await retained("ret_just_past", now - 1)
    await retained("ret_future", now + 365 * privacy.DAY)

    report = await shop.container.privacy().enforce_retention()
    assert report["retained_records"] == 2 and report["access_logs"] == 3, report

    left = {row["id"] for row in await t.RetainedRecord.select(t.RetainedRecord.id)}
    assert left == {"ret_future"}

    async def ages(customer_id: str) -> list[int]:
        rows = await t.LoginFailure.select(t.LoginFailure.at).where(
            t.LoginFailure.customer_id == customer_id)
        return sorted(round((now - row["at"].timestamp()) / privacy.DAY) for row in rows)

    assert await ages(kr_id) == [1, 89]
    assert await ages(eu_id) == [1, 91, 179]
    # Running it again finds nothing more to delete.
    again = await shop.container.privacy().enforce_retention()
    assert again["retained_records"] == 0 and again["access_logs"] == 0


async def test_a_jurisdiction_without_a_policy_of_its_own_follows_the_default(
    shop_factory: Any,
) -> None:
    """Erasure applies the default policy to a jurisdiction the settings do not name; the
    periodic purge must apply the same one."""
    shop = await shop_factory(retention_policies={
        "KR": {"payment_records": 1825, "contract_records": 1825, "complaints": 1095,
               "access_logs": 90},
        "default": {"payment_records": 2555, "contract_records": 2555, "complaints": 1095,
                    "access_logs": 30}})
    eu = await privacy.register(shop, f"eu.{uuid.uuid4().hex[:8]}@example.com", country="FR")
    eu_id = (await privacy.me(shop, eu))["id"]
    assert shop.container.privacy().policy_of("EU").days["access_logs"] == 30
    now = time.time()
    for days_ago in (10, 60):
        await t.LoginFailure.insert(t.LoginFailure(
            customer_id=eu_id, at=datetime.fromtimestamp(now - days_ago * privacy.DAY, UTC)))
    report = await shop.container.privacy().enforce_retention()
    assert report["access_logs"] == 1, report
    [left] = await t.LoginFailure.select().where(t.LoginFailure.customer_id == eu_id)
    assert round((now - left["at"].timestamp()) / privacy.DAY) == 10


async def test_retention_clears_abandoned_sign_ins(shop: Any) -> None:
    start = await shop.client.get("/v1/auth/sandbox/start", allow_redirects=False)
    assert start.status == 302
    old = datetime.now(UTC) - timedelta(days=2)
    await t.AuthFlow.update({t.AuthFlow.created_at: old}).where(
        t.AuthFlow.provider == "sandbox")
    report = await shop.container.privacy().enforce_retention()
    assert report["sign_in_leftovers"] == 1
    assert await t.AuthFlow.count() == 0
