"""Campaigns on a real database (SQLite and PostgreSQL): the audience written down, batches
within the channel's rate limit, quiet hours, cancellation, figures, and each recipient queued
once however the senders overlap or fail."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from dependency_injector import providers

from adapters.persistence import tables as t
from adapters.persistence.campaigns import PiccoloCampaigns, _settled
from application.campaigns import Campaigns
from domain.campaigns import Audience
from domain.messages import Channel
from tests.fakes.clock import FakeClock
from tests.integration.campaign_audience import add_customers, campaign_messages

# 10:00 UTC is 19:00 in Seoul: daytime for both.
DAYTIME = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)
EMAIL = {"marketing_email": True}
TEA = {"title": "Tea", "message": "Jeju green tea, 20% off this week."}


@pytest.fixture
def clock(container: Any) -> FakeClock:
    clock = FakeClock(DAYTIME)
    container.clock.override(providers.Object(clock))
    return clock


def campaigns(container: Any, clock: FakeClock, per_minute: int = 600,
              every: float = 5.0, store: Any = None) -> Campaigns:
    """A sender, as each worker process has its own."""
    return Campaigns(container.uow(), store or PiccoloCampaigns(), clock, container.queue(),
                     {"email": per_minute}, timedelta(seconds=every), timedelta(seconds=60))


async def define(sender: Campaigns, clock: FakeClock, **audience: Any) -> str:
    view = await sender.define(name="Winter tea", channel=Channel.EMAIL, template="promotion",
                               audience=Audience(**audience), params=TEA,
                               admin_id="adm_1", send_at=clock.now())
    assert view["status"] == "scheduled"
    return str(view["id"])


async def run_until_done(sender: Campaigns, campaign_id: str, clock: FakeClock,
                         runs: int = 50) -> list[int]:
    """Runs of the sending job, the clock moving on by a period each; what each queued."""
    queued = []
    for _ in range(runs):
        queued.append(await sender.send_due())
        if (await sender.view(campaign_id))["status"] == "done":
            return queued
        clock.advance(seconds=5)
    raise AssertionError(f"not done after {runs} runs: {await sender.view(campaign_id)}")


async def test_each_consenting_customer_gets_one_message_in_rate_limited_batches(
    container: Any, clock: FakeClock,
) -> None:
    consenting = await add_customers(8, now=clock.now(), consents=EMAIL)
    await add_customers(3, now=clock.now(), prefix="cus_no", consents={"marketing_email": False})
    await add_customers(2, now=clock.now(), prefix="cus_sms", consents={"marketing_sms": True})
    sender = campaigns(container, clock, per_minute=36)  # 3 per 5-second run
    campaign_id = await define(sender, clock)

    queued = await run_until_done(sender, campaign_id, clock)

    assert queued[:3] == [3, 3, 2]  # the audience written down, then 3 a run
    assert sum(queued) == 8
    messages = await campaign_messages(campaign_id)
    assert sorted(m["customer_id"] for m in messages) == consenting
    assert {m["message_id"] for m in messages} == {f"cmp:{campaign_id}:{c}" for c in consenting}
    assert {m["template"] for m in messages} == {"promotion"}
    # Each message goes by the campaign's channel only, with the text it is defined with.
    assert all(m["params"]["title"] == "Tea" and m["channel"] == "email" for m in messages)
    view = await sender.view(campaign_id)
    assert view["recipients"] == 8 and view["progress"] == 1.0
    assert view["figures"]["queued"] == 8 and view["figures"]["pending"] == 0


async def test_the_minute_s_allowance_is_shared_and_waits_for_the_next_minute(
    container: Any, clock: FakeClock,
) -> None:
    await add_customers(14, now=clock.now(), consents=EMAIL)
    sender = campaigns(container, clock, per_minute=10, every=60)
    first = await define(sender, clock)
    second = await define(sender, clock)
    # Both audiences written down, and the first campaign takes the whole minute.
    assert await sender.send_due() == 10
    clock.advance(seconds=30)
    assert await sender.send_due() == 0
    figures = [(await sender.view(c))["figures"]["queued"] for c in (first, second)]
    assert figures == [10, 0]
    clock.advance(seconds=31)
    assert await sender.send_due() == 10  # 4 left of the first, then 6 of the second
    figures = [(await sender.view(c))["figures"]["queued"] for c in (first, second)]
    assert figures == [14, 6]


async def test_recipients_in_their_quiet_hours_wait_for_eight_their_time(
    container: Any, clock: FakeClock,
) -> None:
    clock._now = datetime(2026, 12, 2, 13, 0, tzinfo=UTC)  # 22:00 in Seoul, 13:00 UTC
    korean = await add_customers(3, now=clock.now(), prefix="cus_kr", consents=EMAIL,
                                 jurisdiction="KR")
    night_owl = await add_customers(1, now=clock.now(), prefix="cus_nt", jurisdiction="KR",
                                    consents={**EMAIL, "marketing_night": True})
    elsewhere = await add_customers(2, now=clock.now(), prefix="cus_df", consents=EMAIL)
    sender = campaigns(container, clock)
    campaign_id = await define(sender, clock)
    assert await sender.send_due() == 3
    assert sorted(m["customer_id"] for m in await campaign_messages(campaign_id)) == sorted(
        night_owl + elsewhere)
    waiting = await t.CampaignRecipient.select(t.CampaignRecipient.not_before).where(
        t.CampaignRecipient.customer_id.is_in(korean))
    assert {row["not_before"].astimezone(UTC) for row in waiting} == {
        datetime(2026, 12, 2, 23, 0, tzinfo=UTC)}
    clock.advance(hours=9, minutes=59)  # 07:59 in Seoul
    assert await sender.send_due() == 0
    assert (await sender.view(campaign_id))["status"] == "sending"
    clock.advance(minutes=1)
    assert await sender.send_due() == 3
    await sender.send_due()
    assert (await sender.view(campaign_id))["status"] == "done"
    assert len(await campaign_messages(campaign_id)) == 6


async def test_criteria_and_a_consent_withdrawn_meanwhile(container: Any,
                                                          clock: FakeClock) -> None:
    korean = await add_customers(3, now=clock.now(), prefix="cus_kr", consents=EMAIL,
                                 jurisdiction="KR")
    await add_customers(2, now=clock.now(), prefix="cus_eu", consents=EMAIL,
                        jurisdiction="EU")
    await t.Order.insert(t.Order(id="ord_1", customer_id=korean[0], currency="KRW",
                                 status="paid", carrier="sandbox-express", shipping_address="{}",
                                 created_at=clock.now() - timedelta(days=3), service="std"))
    sender = campaigns(container, clock, per_minute=12)  # 1 a run, campaigns together
    everyone_kr = await define(sender, clock, jurisdictions=("KR",))
    buyers = await define(sender, clock, ordered_since=(clock.now() - timedelta(days=7)).date())
    assert await sender.send_due() == 2  # the first customer of each
    await t.Consent.update({t.Consent.granted: False}).where(
        t.Consent.customer_id == korean[1])
    await run_until_done(sender, everyone_kr, clock)
    await run_until_done(sender, buyers, clock)
    assert sorted(m["customer_id"] for m in await campaign_messages(everyone_kr)) == [
        korean[0], korean[2]]
    assert (await sender.view(everyone_kr))["figures"]["skipped"] == 1
    assert [m["customer_id"] for m in await campaign_messages(buyers)] == [korean[0]]


async def test_a_cancelled_campaign_queues_no_one_more(container: Any, clock: FakeClock) -> None:
    await add_customers(10, now=clock.now(), consents=EMAIL)
    sender = campaigns(container, clock, per_minute=48)  # 4 a run
    campaign_id = await define(sender, clock)
    assert await sender.send_due() == 4
    view = await sender.cancel(campaign_id, "adm_1")
    assert view["status"] == "cancelled"
    assert view["figures"]["queued"] == 4 and view["figures"]["skipped"] == 6
    clock.advance(minutes=2)
    assert await sender.send_due() == 0
    assert len(await campaign_messages(campaign_id)) == 4


async def test_senders_at_once_queue_each_recipient_once(container: Any,
                                                         clock: FakeClock) -> None:
    customers = await add_customers(30, now=clock.now(), consents=EMAIL)
    senders = [campaigns(container, clock, per_minute=6000) for _ in range(3)]
    campaign_id = await define(senders[0], clock)
    for _ in range(6):
        await asyncio.gather(*[sender.send_due() for sender in senders])
        clock.advance(seconds=61)  # every lease has run out: any sender may take over
    messages = await campaign_messages(campaign_id)
    assert Counter(m["customer_id"] for m in messages) == Counter(customers)


class DiesMidBatch(PiccoloCampaigns):
    """A store whose sender dies after queueing `survives` recipients of a batch."""

    def __init__(self, survives: int) -> None:
        self.left = survives

    async def queue(self, recipient_id: str, outbox_id: str, now: datetime) -> bool:
        if self.left == 0:
            raise ConnectionResetError("the worker died")
        self.left -= 1
        return await super().queue(recipient_id, outbox_id, now)


async def test_a_batch_cut_short_leaves_no_trace_and_is_sent_whole_later(
    container: Any, clock: FakeClock,
) -> None:
    customers = await add_customers(6, now=clock.now(), consents=EMAIL)
    dying = campaigns(container, clock, store=DiesMidBatch(survives=3))
    campaign_id = await define(dying, clock)
    with pytest.raises(ConnectionResetError):
        await dying.send_due()  # the audience is written down, then the batch dies
    assert await campaign_messages(campaign_id) == []  # its rows and commands went together
    assert (await dying.view(campaign_id))["figures"]["pending"] == 6
    clock.advance(seconds=61)  # its lease runs out
    await run_until_done(campaigns(container, clock), campaign_id, clock)
    assert sorted(m["customer_id"] for m in await campaign_messages(campaign_id)) == customers


async def test_figures_follow_what_became_of_each_message(container: Any,
                                                          clock: FakeClock) -> None:
    await add_customers(4, now=clock.now(), consents=EMAIL)
    sender = campaigns(container, clock)
    campaign_id = await define(sender, clock)
    await run_until_done(sender, campaign_id, clock)
    outbox = [m["outbox_id"] for m in await campaign_messages(campaign_id)]
    await t.OutboxMessage.update({t.OutboxMessage.status: "done"}).where(
        t.OutboxMessage.id.is_in(outbox[:2]))
    await t.OutboxMessage.update({t.OutboxMessage.status: "dead"}).where(
        t.OutboxMessage.id == outbox[2])
    await sender.send_due()
    figures = (await sender.view(campaign_id))["figures"]
    assert figures == {"pending": 0, "queued": 1, "sent": 2, "failed": 1, "skipped": 0}


@pytest.mark.parametrize(("delivery", "outbox", "settled"), [
    ("delivered", "done", "sent"), ("sent", None, "sent"), ("queued", "pending", "sent"),
    ("bounced", "done", "failed"), ("failed", "dead", "failed"),
    ("suppressed", "done", "skipped"), ("deferred", "done", None), ("sending", None, None),
    (None, "done", "sent"), (None, "dead", "failed"), (None, "processing", None),
    (None, None, None),
])
def test_a_recipient_settles_by_the_dispatcher_s_record_first(
    delivery: str | None, outbox: str | None, settled: str | None,
) -> None:
    assert _settled(delivery, outbox) == settled


async def test_a_sender_that_died_holding_a_campaign_is_taken_over_after_its_lease(
    container: Any, clock: FakeClock,
) -> None:
    await add_customers(10, now=clock.now(), consents=EMAIL)
    sender = campaigns(container, clock, per_minute=60)  # 5 a run
    campaign_id = await define(sender, clock)
    assert await sender.send_due() == 5
    store = PiccoloCampaigns()
    async with container.uow()(autocommit=True):
        assert await store.lease(campaign_id, "dead-worker", clock.now(),
                                 clock.now() + timedelta(seconds=60))
    clock.advance(seconds=59)
    assert await sender.send_due() == 0
    clock.advance(seconds=2)
    assert await sender.send_due() == 5


async def test_an_erased_customer_leaves_no_recipient_row_behind(container: Any,
                                                                 clock: FakeClock) -> None:
    kept, erased = await add_customers(2, now=clock.now(), consents=EMAIL)
    sender = campaigns(container, clock)
    campaign_id = await define(sender, clock)
    await sender.send_due()
    async with container.uow()() as uow:
        counts = await uow.privacy.erase(erased, "anon_1")
        await uow.commit()
    assert counts["campaign_recipient"] == 1
    rows = await t.CampaignRecipient.select(t.CampaignRecipient.customer_id).where(
        t.CampaignRecipient.campaign_id == campaign_id)
    assert rows == [{"customer_id": kept}]
