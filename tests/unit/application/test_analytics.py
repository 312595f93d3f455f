"""Analytics on fakes: milestones through the plan, the privacy filter and consent; the
batching job's retries, dead letters and replay."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest

from application.analytics import AnalyticsPolicy, AnalyticsService, keep, retry_wait
from application.ports import AnalyticsEvent
from application.ports.analytics import BatchReceipt, ConsentRule, ConsentSeen, PendingEvent
from domain.analytics_privacy import PseudonymKeys
from domain.commands import TrackEvent
from domain.errors import ProviderUnavailable
from domain.tracking_plan import OffPlan
from tests.fakes.clock import FakeClock
from tests.fakes.messaging import FakeTaskQueue
from tests.unit.application.harness import Mall

T0 = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)


async def test_without_the_opt_in_a_korean_customer_s_milestones_are_not_sent(
        mall: Mall) -> None:
    customer = await mall.customer(country="KR")
    await mall.place(customer)
    await mall.run_outbox()
    assert mall.analytics.events == []
    await mall.container.accounts().set_consents(customer.id, {"analytics": True})
    await mall.place(customer)
    await mall.run_outbox()
    assert mall.analytics.names == ["Order Placed"]


async def test_an_eu_customer_needs_the_opt_in_and_others_may_refuse(mall: Mall) -> None:
    european = await mall.customer(country="DE")
    american = await mall.customer(country="US")
    await mall.container.accounts().set_consents(american.id, {"analytics": False})
    for customer in (european, american):
        await mall.place(customer)
    await mall.run_outbox()
    assert mall.analytics.events == []


class MistakenQueue:
    """A queue whose consent check in SQL answers the opposite of the domain's rule."""

    def __init__(self) -> None:
        self.kept: list[str] = []
        self.forgotten: list[str] = []

    async def track(self, event: AnalyticsEvent) -> None:
        self.kept.append(event.message_id)

    async def track_if_consented(self, event: AnalyticsEvent, customer_id: str,
                                 rule: ConsentRule) -> ConsentSeen:
        jurisdiction = "KR" if customer_id == "cus_kr" else "US"
        answers = rule.required if jurisdiction in rule.opt_in else rule.elsewhere
        wrong = not answers[2]  # no consent given either way
        if wrong:
            self.kept.append(event.message_id)
        return ConsentSeen(jurisdiction, None, kept=wrong, read=True)

    async def forget(self, message_id: str) -> None:
        self.forgotten.append(message_id)


async def test_the_domain_has_the_last_word_on_consent_over_the_queue_s_check(
        mall: Mall) -> None:
    """Where the queue's own check and the domain disagree, the domain's answer is what
    stays: an event kept without the consent it needs is dropped, one left out is kept."""
    queue = MistakenQueue()
    policy = mall.container.analytics_policy()
    at = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)
    korean = AnalyticsEvent("obx_kr", "Order Placed", "anon_1", at, {}, "k1")
    american = AnalyticsEvent("obx_us", "Order Placed", "anon_2", at, {}, "k1")
    await keep(korean, "cus_kr", queue, policy, mall.container.uow())
    await keep(american, "cus_us", queue, policy, mall.container.uow())
    assert queue.forgotten == ["obx_kr"]  # KR needs the opt-in: not sent after all
    assert queue.kept == ["obx_kr", "obx_us"]  # the American's was kept on second thought


async def test_a_server_event_is_filtered_and_pseudonymous(mall: Mall) -> None:
    customer = await mall.customer(country="US")
    [message_id] = await mall.queued(TrackEvent(customer.id, "Payment Failed", {
        "order_ref": "ord_0123456789ab", "reason": "card_declined",
        "email": "ada@example.com", "note": "call +82 10-1234-5678"}))
    await mall.container.outbox().run(message_id)
    [event] = mall.analytics.events
    assert event.message_id == message_id and event.key_id == "default"
    assert event.anonymous_id.startswith("anon_") and customer.id not in event.anonymous_id
    assert set(event.properties) == {"order_ref", "reason"}  # email and note left out
    assert event.properties["order_ref"].startswith("anon_")
    assert event.properties["reason"] == "card_declined"


async def test_an_event_outside_the_plan_is_not_sent(mall: Mall) -> None:
    [message_id] = await mall.queued(TrackEvent("cus_x", "Mouse Moved", {}))
    assert await mall.container.outbox().run(message_id)
    assert mall.analytics.events == []


async def test_a_storefront_milestone_is_queued_in_the_outbox(mall: Mall) -> None:
    customer = await mall.customer(country="US")
    service = mall.container.analytics_service()
    message_id = await service.record_milestone(customer.id, "Coupon Applied",
                                                {"coupon": "SUMMER26", "order_ref": "ord_1"})
    assert message_id in mall.queue.outbox
    await mall.run_outbox()
    [event] = [e for e in mall.analytics.events if e.name == "Coupon Applied"]
    assert event.message_id == message_id and event.properties["coupon"] == "SUMMER26"


@pytest.mark.parametrize("properties", [
    {"coupon": "ada@example.com"}, {"coupon": "SUMMER", "order_ref": "x@y.zz"},
    {"coupon": "01012345678"}])
async def test_a_storefront_milestone_with_personal_data_is_refused(
        mall: Mall, properties: dict[str, object]) -> None:
    with pytest.raises(OffPlan):
        await mall.container.analytics_service().record_milestone("cus_1", "Coupon Applied",
                                                                  properties)
    assert mall.queue.outbox == []


class MemoryQueue:
    """The analytics queue in memory: rows by id."""

    def __init__(self) -> None:
        self.rows: dict[str, dict[str, object]] = {}

    def add(self, destination: str, *events: AnalyticsEvent) -> None:
        for event in events:
            self.rows[f"{destination}:{event.message_id}"] = {
                "event": event, "destination": destination, "status": "pending",
                "attempts": 0, "next": event.occurred_at, "error": ""}

    async def track(self, event: AnalyticsEvent) -> None:
        self.add("segment", event)

    async def claim_due(self, destination: str, now: datetime, hold_until: datetime,
                        limit: int) -> list[PendingEvent]:
        due = [(row_id, row) for row_id, row in self.rows.items()
               if row["destination"] == destination and row["status"] == "pending"
               and row["next"] <= now][:limit]  # type: ignore[operator]
        for _, row in due:
            row["next"] = hold_until
        return [PendingEvent(row_id, row["event"], row["attempts"])  # type: ignore[arg-type]
                for row_id, row in due]

    async def sent(self, ids: Sequence[str], now: datetime) -> None:
        for row_id in ids:
            self.rows[row_id]["status"] = "sent"

    async def failed(self, ids: Sequence[str], error: str, next_attempt_at: datetime,
                     dead: bool) -> None:
        for row_id in ids:
            row = self.rows[row_id]
            row.update(status="dead" if dead else "pending", next=next_attempt_at, error=error,
                       attempts=int(row["attempts"]) + 1)  # type: ignore[call-overload]

    async def replay(self, destination: str, now: datetime) -> int:
        dead = [row for row in self.rows.values()
                if row["destination"] == destination and row["status"] == "dead"]
        for row in dead:
            row.update(status="pending", attempts=0, next=now)
        return len(dead)

    async def dead_letters(self) -> dict[str, int]:
        return {"segment": sum(row["status"] == "dead" for row in self.rows.values())}

    async def counts(self, names: Sequence[str], start: datetime,
                     end: datetime) -> dict[str, int]:
        return {}

    def statuses(self) -> list[object]:
        return [row["status"] for row in self.rows.values()]


class ScriptedDestination:
    """Answers each call with the next scripted outcome: a receipt or an exception."""

    name = "segment"
    batch_size = 2

    def __init__(self, *outcomes: BatchReceipt | Exception) -> None:
        self.outcomes = list(outcomes)
        self.calls: list[list[str]] = []

    async def send_batch(self, events: Sequence[AnalyticsEvent]) -> BatchReceipt:
        self.calls.append([e.message_id for e in events])
        outcome = self.outcomes.pop(0) if self.outcomes else BatchReceipt()
        if isinstance(outcome, Exception):
            raise outcome
        return outcome


def _events(count: int) -> list[AnalyticsEvent]:
    return [AnalyticsEvent(f"m{n}", "Order Placed", f"anon_{n}", T0) for n in range(count)]


def _service(queue: MemoryQueue, destination: ScriptedDestination,
             clock: FakeClock) -> AnalyticsService:
    policy = AnalyticsPolicy(PseudonymKeys({"k": b"k" * 32}, "k"))
    return AnalyticsService(None, FakeTaskQueue(), clock, queue,  # type: ignore[arg-type]
                            {"segment": destination}, policy, max_attempts=3)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(T0 + timedelta(seconds=1))


async def test_the_job_sends_due_events_in_batches(clock: FakeClock) -> None:
    queue, destination = MemoryQueue(), ScriptedDestination()
    queue.add("segment", *_events(5))
    assert await _service(queue, destination, clock).flush() == {"segment": 5}
    assert [len(call) for call in destination.calls] == [2, 2, 1]
    assert queue.statuses() == ["sent"] * 5


async def test_a_failing_service_is_tried_again_later_then_given_up(clock: FakeClock) -> None:
    queue = MemoryQueue()
    down = ProviderUnavailable("segment answered HTTP 503")
    destination = ScriptedDestination(down, down, down)
    queue.add("segment", *_events(1))
    service = _service(queue, destination, clock)
    assert await service.flush() == {"segment": 0}
    assert await service.flush() == {"segment": 0}  # not due yet: waiting 10 s
    assert len(destination.calls) == 1
    clock.advance(seconds=retry_wait(1).total_seconds())
    await service.flush()
    clock.advance(seconds=retry_wait(2).total_seconds())
    await service.flush()
    assert len(destination.calls) == 3 and queue.statuses() == ["dead"]
    assert await service.dead_letters() == {"segment": 1}
    assert await service.replay("segment") == {"segment": 1}
    assert await service.flush() == {"segment": 1}
    assert queue.statuses() == ["sent"]


async def test_refused_events_are_dead_letters_and_the_rest_retry_or_are_sent(
        clock: FakeClock) -> None:
    queue = MemoryQueue()
    destination = ScriptedDestination(BatchReceipt(refused={"m0": "too large"},
                                                   retry={"m1": "retry: HTTP 500"}))
    queue.add("segment", *_events(2))
    assert await _service(queue, destination, clock).flush() == {"segment": 0}
    assert queue.rows["segment:m0"]["status"] == "dead"
    assert queue.rows["segment:m1"]["status"] == "pending"
    assert queue.rows["segment:m1"]["attempts"] == 1


async def test_an_unknown_destination_cannot_be_replayed(clock: FakeClock) -> None:
    from domain.errors import DomainError

    with pytest.raises(DomainError, match="no analytics destination 'ga4'"):
        await _service(MemoryQueue(), ScriptedDestination(), clock).replay("ga4")


def test_the_wait_doubles_up_to_an_hour() -> None:
    assert [retry_wait(n).total_seconds() for n in (1, 2, 3)] == [10, 20, 40]
    assert retry_wait(30) == timedelta(hours=1)
