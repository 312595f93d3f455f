"""The analytics queue on SQLite and PostgreSQL: each event kept once per destination, claimed
by one sender at a time, sent, retried, dead-lettered and replayed; the funnel counts each
event once; the periodic job sends what the outbox's TrackEvent commands queued."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from adapters.analytics.pending import PiccoloAnalyticsQueue
from adapters.persistence.tables import AnalyticsDelivery
from application.ports import AnalyticsEvent
from application.transactions import send
from domain.commands import TrackEvent
from tests.integration.analytics_standins import SegmentStandIn

T0 = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)


def event(n: int, name: str = "Order Placed", at: datetime = T0) -> AnalyticsEvent:
    return AnalyticsEvent(f"obx_{n:04x}", name, f"anon_{n}", at, {"currency": "KRW"}, "k1")


async def test_an_event_is_kept_once_per_destination(container: Any) -> None:
    queue = PiccoloAnalyticsQueue(["segment", "ga4"])
    await queue.track(event(1))
    await queue.track(event(1))  # a retried command
    rows = await AnalyticsDelivery.select(AnalyticsDelivery.id).order_by(AnalyticsDelivery.id)
    assert [row["id"] for row in rows] == ["ga4:obx_0001", "segment:obx_0001"]


async def test_claimed_events_are_held_from_other_senders(container: Any) -> None:
    queue = PiccoloAnalyticsQueue(["segment"])
    for n in range(3):
        await queue.track(event(n))
    now = T0 + timedelta(seconds=1)
    first = await queue.claim_due("segment", now, now + timedelta(minutes=1), 2)
    second = await queue.claim_due("segment", now, now + timedelta(minutes=1), 5)
    assert len(first) == 2 and len(second) == 1
    assert {p.id for p in first}.isdisjoint({p.id for p in second})
    assert first[0].event == event(0) and first[0].attempts == 0
    assert await queue.claim_due("segment", now, now, 5) == []


async def test_failures_dead_letters_and_replay(container: Any) -> None:
    queue = PiccoloAnalyticsQueue(["segment"])
    await queue.track(event(1))
    await queue.track(event(2))
    now = T0 + timedelta(seconds=1)
    await queue.failed(["segment:obx_0001"], "HTTP 503", now + timedelta(seconds=10), False)
    await queue.failed(["segment:obx_0002"], "HTTP 400", now, True)
    assert await queue.claim_due("segment", now, now, 5) == []
    [retry] = await queue.claim_due("segment", now + timedelta(seconds=10), now, 5)
    assert retry.attempts == 1
    assert await queue.dead_letters() == {"segment": 1}
    assert await queue.replay("segment", now) == 1
    await queue.sent(["segment:obx_0001", "segment:obx_0002"], now)
    assert await queue.dead_letters() == {}
    rows = await AnalyticsDelivery.select(AnalyticsDelivery.status)
    assert {row["status"] for row in rows} == {"sent"}


async def test_the_funnel_counts_each_event_once_in_the_range(container: Any) -> None:
    queue = PiccoloAnalyticsQueue(["segment", "ga4"])
    await queue.track(event(1, "Checkout Started"))
    await queue.track(event(2, "Checkout Started"))
    await queue.track(event(3, "Order Placed"))
    await queue.track(event(4, "Order Placed", at=T0 + timedelta(days=2)))
    counts = await queue.counts(["Checkout Started", "Order Placed"], T0,
                                T0 + timedelta(days=1))
    assert counts == {"Checkout Started": 2, "Order Placed": 1}


async def test_the_job_sends_what_the_outbox_queued(container: Any,
                                                   aiohttp_server: Any,
                                                   settings_factory: Any) -> None:
    import bootstrap
    from tests.conftest import reset_database

    stand_in = SegmentStandIn("wk_test")
    server = await aiohttp_server(stand_in.application())
    mall = bootstrap.build(settings_factory(
        analytics_providers=["segment"], segment_write_key="wk_test",
        segment_url=str(server.make_url(""))))
    await reset_database(mall)
    try:
        async with mall.uow()() as uow:
            ids = [await send(uow, TrackEvent("cus_unknown", "Order Placed",
                                              {"order_ref": "ord_1", "total_minor": 100,
                                               "currency": "USD"})),
                   await send(uow, TrackEvent("cus_unknown", "Not In The Plan"))]
            await uow.commit()
        relay = mall.outbox()
        for message_id in ids:
            assert await relay.run(message_id)
            assert await relay.run(message_id)  # again: still one event
        assert await mall.analytics_service().flush() == {"segment": 1}
        [call] = stand_in.calls
        assert call["messageId"] == ids[0] and call["event"] == "Order Placed"
        assert call["properties"]["order_ref"].startswith("anon_")
        assert await mall.analytics_service().flush() == {"segment": 0}  # sent once
        report = await mall.analytics_service().funnel(
            datetime.now(UTC) - timedelta(hours=1), datetime.now(UTC) + timedelta(hours=1))
        placed = next(s for s in report["steps"] if s["event"] == "Order Placed")
        assert placed["count"] == 1
    finally:
        await mall.http().close()


async def test_an_event_is_kept_only_with_the_consent_its_customer_needs(
        container: Any, engine_name: str) -> None:
    """The queue reads the customer's consent in the statement that keeps the event and
    keeps it exactly when the domain's may_track says so, for every state: opt-in
    jurisdiction or not, consent granted, withdrawn or never given, no customer. (SQLite
    has no write in a WITH: what was read is a statement of its own, sent with it.)"""
    from application.analytics import consent_rule
    from domain.analytics_privacy import ANALYTICS_CONSENT, OPT_IN_JURISDICTIONS, may_track
    from domain.customers import Customer
    from tests.sql_statements import count_statements

    uow = container.uow()
    queue = PiccoloAnalyticsQueue(["segment", "ga4"])
    rule = consent_rule(OPT_IN_JURISDICTIONS)
    cases = [(f"cus_{where}_{state}", where, state)
             for where in ("KR", "US") for state in ("granted", "withdrawn", "never")]
    async with uow() as u:
        for customer_id, where, state in cases:
            await u.customers.add(Customer(customer_id, f"{customer_id}@example.com", "hash",
                                           created_at=T0, jurisdiction=where))
            if state != "never":
                await u.customers.consents.set(customer_id, ANALYTICS_CONSENT,
                                               state == "granted")
        await u.commit()
    answers = set()
    for n, (customer_id, where, state) in enumerate([*cases, ("flow_x", "default", "never")]):
        async with uow() as u:
            with count_statements() as seen_statements:
                seen = await queue.track_if_consented(event(n), customer_id, rule)
                await u.commit()
        consents = {} if state == "never" else {ANALYTICS_CONSENT: state == "granted"}
        allowed = may_track(where, consents, OPT_IN_JURISDICTIONS)
        assert (seen.read, seen.jurisdiction, seen.kept) == (True, where, allowed), customer_id
        assert seen.consent == consents.get(ANALYTICS_CONSENT)
        answers.add(allowed)
        kept = await AnalyticsDelivery.select(AnalyticsDelivery.destination).where(
            AnalyticsDelivery.message_id == f"obx_{n:04x}")
        assert sorted(row["destination"] for row in kept) == (
            ["ga4", "segment"] if allowed else []), customer_id
        assert seen_statements.count == (1 if engine_name == "postgres" else 2)
    assert answers == {True, False}  # the cases are not all one answer
    await queue.forget("obx_0000")
    assert not await AnalyticsDelivery.select().where(
        AnalyticsDelivery.message_id == "obx_0000")
