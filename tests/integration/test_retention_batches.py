"""Retention deletes in batches, a bounded number of rows per statement, on both engines, and
still counts every row it removed. Batches of 2 here stand for the 5,000 of production."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from adapters.persistence import tables as t
from adapters.persistence.repositories import PrivacyRepository
from tests.fakes import FakeClock
from tests.sql_statements import count_statements

NOW = datetime(2031, 5, 1, 12, 0, tzinfo=UTC)
OLD, RECENT = NOW - timedelta(days=40), NOW - timedelta(hours=1)


def _deletes(texts: list[str]) -> int:
    return sum(1 for text in texts if text.upper() == "DELETE")


async def test_retained_records_go_two_by_two(container: Any) -> None:
    await t.RetainedRecord.insert(*[t.RetainedRecord(
        id=f"ret_{n}", record_class="contract_records", subject=f"anon_{n}",
        jurisdiction="default", payload="{}", created_at=OLD,
        retain_until=NOW - timedelta(minutes=n) if n < 5 else NOW + timedelta(days=1),
    ) for n in range(6)])
    with count_statements() as seen:
        removed = await PrivacyRepository(FakeClock(NOW), purge_batch=2).purge_retained(NOW)
    assert removed == 5
    assert _deletes(seen.texts) == 3  # 2, 2, then 1: fewer than a batch ends it
    assert [row["id"] for row in await t.RetainedRecord.select(t.RetainedRecord.id)] == [
        "ret_5"]


async def test_a_batch_that_ends_exactly_is_followed_by_an_empty_one(container: Any) -> None:
    await t.RetainedRecord.insert(*[t.RetainedRecord(
        id=f"ret_{n}", record_class="contract_records", subject=f"anon_{n}",
        jurisdiction="default", payload="{}", created_at=OLD, retain_until=OLD,
    ) for n in range(4)])
    with count_statements() as seen:
        removed = await PrivacyRepository(FakeClock(NOW), purge_batch=2).purge_retained(NOW)
    assert (removed, _deletes(seen.texts)) == (4, 3)
    assert await t.RetainedRecord.count() == 0


async def test_access_logs_go_in_batches_for_the_jurisdictions_customers_only(
    container: Any,
) -> None:
    await t.Customer.insert(*[t.Customer(
        id=f"cus_{n}", email=f"c{n}@example.com", password_hash="", created_at=OLD,
        jurisdiction="kr" if n % 2 else "default") for n in range(6)])
    await t.LoginFailure.insert(*[t.LoginFailure(customer_id=f"cus_{n}", at=at)
                                  for n in range(6) for at in (OLD, RECENT)])
    # The failures of a customer no longer there belong to no jurisdiction: kept here.
    await t.LoginFailure.insert(t.LoginFailure(customer_id="cus_gone", at=OLD))
    privacy = PrivacyRepository(FakeClock(NOW), purge_batch=2)
    with count_statements() as seen:
        removed = await privacy.purge_access_logs("kr", NOW - timedelta(days=30))
    assert (removed, _deletes(seen.texts)) == (3, 2)
    left = await t.LoginFailure.select(t.LoginFailure.customer_id, t.LoginFailure.at)
    assert sorted((row["customer_id"], row["at"] == OLD) for row in left) == sorted(
        [(f"cus_{n}", False) for n in range(6)]
        + [(f"cus_{n}", True) for n in range(0, 6, 2)] + [("cus_gone", True)])


async def test_finished_work_and_sign_in_leftovers_go_in_batches(container: Any) -> None:
    statuses = ["done", "done", "done", "pending", "dead"]
    await t.OutboxMessage.insert(*[t.OutboxMessage(
        id=f"obx_{n}", topic="SendNotification", payload="{}", status=status,
        created_at=OLD, available_at=OLD) for n, status in enumerate(statuses)])
    await t.OutboxMessage.insert(t.OutboxMessage(
        id="obx_new", topic="SendNotification", payload="{}", status="done",
        created_at=RECENT, available_at=RECENT))
    kinds = ["applied", "no_change", "ignored", "received", "applied"]
    await t.InboxMessage.insert(*[t.InboxMessage(
        id=f"ibx_{n}", dedupe_key=f"sandbox:evt_{n}", provider="sandbox",
        event_id=f"evt_{n}", kind="payment.succeeded", payload="{}", status=status,
        received_at=OLD if n < 4 else RECENT, available_at=OLD,
    ) for n, status in enumerate(kinds)])
    await t.AuthFlow.insert(*[t.AuthFlow(
        state_hash=f"state_{n}", provider="google", purpose="sign_in", nonce="",
        code_verifier="", redirect_uri="", created_at=OLD if n < 3 else RECENT,
    ) for n in range(4)])
    await t.PendingLink.insert(*[t.PendingLink(
        token_hash=f"link_{n}", customer_id="cus_1", provider="google", subject=f"s{n}",
        email="", created_at=OLD if n < 2 else RECENT) for n in range(3)])
    await t.AnalyticsDelivery.insert(*[t.AnalyticsDelivery(
        id=f"ga4:evt_{n}", message_id=f"evt_{n}", destination="ga4", name="order_paid",
        anonymous_id="anon", status=status, occurred_at=OLD, next_attempt_at=OLD,
        sent_at=(OLD if n < 3 else RECENT) if status == "sent" else None,
    ) for n, status in enumerate(["sent", "sent", "dead", "sent", "pending"])])
    privacy = PrivacyRepository(FakeClock(NOW), purge_batch=2)
    with count_statements() as work:
        assert await privacy.purge_finished_work(NOW - timedelta(days=30)) == 3 + 3 + 2
    with count_statements() as sign_ins:
        assert await privacy.purge_sign_in_leftovers(NOW - timedelta(days=1)) == 3 + 2
    assert (_deletes(work.texts), _deletes(sign_ins.texts)) == (2 + 2 + 2, 2 + 2)
    assert sorted(row["id"] for row in await t.AnalyticsDelivery.select(
        t.AnalyticsDelivery.id)) == ["ga4:evt_2", "ga4:evt_3", "ga4:evt_4"]
    assert sorted(row["id"] for row in await t.OutboxMessage.select(t.OutboxMessage.id)) == [
        "obx_3", "obx_4", "obx_new"]
    assert sorted(row["id"] for row in await t.InboxMessage.select(t.InboxMessage.id)) == [
        "ibx_3", "ibx_4"]
    assert [row["state_hash"] for row in await t.AuthFlow.select(t.AuthFlow.state_hash)] == [
        "state_3"]
    assert [row["token_hash"] for row in await t.PendingLink.select(
        t.PendingLink.token_hash)] == ["link_2"]


async def test_each_batch_of_a_retention_run_commits_on_its_own(container: Any) -> None:
    past = container.clock().now() - timedelta(days=1)  # the service runs on the real clock
    await t.RetainedRecord.insert(*[t.RetainedRecord(
        id=f"ret_{n}", record_class="contract_records", subject=f"anon_{n}",
        jurisdiction="default", payload="{}", created_at=past, retain_until=past,
    ) for n in range(3)])
    engine = t.RetainedRecord._meta.db
    in_transaction: list[bool] = []
    purge = PrivacyRepository.purge_retained

    async def watched(self: PrivacyRepository, now: datetime) -> int:
        in_transaction.append(engine.current_transaction.get() is not None)
        return await purge(self, now)

    PrivacyRepository.purge_retained = watched  # type: ignore[method-assign]
    try:
        report = await container.privacy().enforce_retention()
    finally:
        PrivacyRepository.purge_retained = purge  # type: ignore[method-assign]
    assert report["retained_records"] == 3
    assert in_transaction == [False]  # no transaction holds the run: each DELETE commits
