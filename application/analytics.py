"""Analytics: milestones from the storefront and the server, through one privacy filter and
the customer's consent, kept durably, and sent to each configured service in batches.

How an event travels: a milestone becomes a `TrackEvent` command in the outbox, written with
the change it describes (or, from the storefront, on its own). Its handler (`prepare`) holds
it to the tracking plan, filters it (domain/analytics_privacy.py), checks consent, and hands
it to the analytics queue: a table keeping one row per event and destination, so a retried
command is kept once. A periodic job (`flush`) sends what is due to each destination in
batches; a batch the service could not take now is tried again with a doubling wait, and an
event that failed `max_attempts` times, or that the service refused, is a dead letter until
an operator replays it.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from application.ports import AnalyticsEvent, AnalyticsSink, Clock, TaskQueue, UnitOfWorkFactory
from application.ports.analytics import (
    AnalyticsDestination,
    AnalyticsQueue,
    BatchReceipt,
    ConsentCheckingQueue,
    ConsentRule,
    PendingEvent,
)
from application.transactions import commit_and_dispatch, commit_result, send
from domain import tracking_plan as plan
from domain.analytics_privacy import (
    ANALYTICS_CONSENT,
    OPT_IN_JURISDICTIONS,
    PseudonymKeys,
    may_track,
    screen,
)
from domain.commands import TrackEvent
from domain.errors import DomainError, ProviderUnavailable

log = logging.getLogger("mall.analytics.queue")

FIRST_RETRY = timedelta(seconds=10)
LONGEST_RETRY = timedelta(hours=1)


@dataclass(frozen=True)
class AnalyticsPolicy:
    """The keys analytics ids are hashed with and the jurisdictions that require an opt-in."""

    keys: PseudonymKeys
    opt_in: frozenset[str] = OPT_IN_JURISDICTIONS


def prepare(command: TrackEvent, policy: AnalyticsPolicy, now: datetime,
            message_id: str) -> AnalyticsEvent | None:
    """The event as it may leave the mall, consent aside; None when the tracking plan does
    not know it."""
    milestone, properties, dropped = plan.conform(command.name, command.properties)
    if milestone is None:
        log.warning("analytics event %r is not in the tracking plan: not sent", command.name)
        return None
    screened = screen(properties, refs=_refs(milestone), keys=policy.keys)
    if dropped or screened.withheld:
        # Names only: the values are what must not be written anywhere.
        log.info("analytics event %r: left out %s", command.name,
                 sorted({*dropped, *screened.withheld}))
    return AnalyticsEvent(
        message_id=message_id, name=milestone.name,
        anonymous_id=policy.keys.hash(command.customer_id), occurred_at=now,
        properties=screened.properties, key_id=policy.keys.current)


async def keep(event: AnalyticsEvent, customer_id: str, sink: AnalyticsSink,
               policy: AnalyticsPolicy, uow: UnitOfWorkFactory) -> None:
    """Queue the event if the customer has the consent their jurisdiction needs, and end
    the message in hand in the same commit. A queue that reads the consent in the statement
    that keeps the event is given the domain's answer for each state the consent can be in;
    what it read is then checked against the domain again, and any disagreement undone."""
    if not isinstance(sink, ConsentCheckingQueue):
        if not await _consented(customer_id, policy, uow):
            return
        async with uow() as unit:
            await sink.track(event)
            await commit_result(unit)
        return
    async with uow() as unit:
        seen = await sink.track_if_consented(event, customer_id, consent_rule(policy.opt_in))
        await commit_result(unit)
    consents = {} if seen.consent is None else {ANALYTICS_CONSENT: seen.consent}
    allowed = may_track(seen.jurisdiction, consents, policy.opt_in)
    if seen.read and allowed == seen.kept:
        return
    log.error("analytics event %s: the queue's consent check (%s) disagrees with the "
              "policy (%s); corrected", event.message_id, seen.kept, allowed)
    if allowed:
        async with uow() as unit:
            await sink.track(event)
            await unit.commit()
    else:
        await sink.forget(event.message_id)


@functools.cache
def consent_rule(opt_in: frozenset[str]) -> ConsentRule:
    """The domain's answer for each state a customer's analytics consent can be in (granted,
    withdrawn, never given), in a jurisdiction that requires an opt-in and in one that
    does not."""
    inside = min(opt_in, default="")
    outside = next(name for name in ("default", "", "-") if name not in opt_in)

    def answers(jurisdiction: str) -> tuple[bool, bool, bool]:
        granted, withdrawn, never = (
            may_track(jurisdiction, consents, opt_in)
            for consents in ({ANALYTICS_CONSENT: True}, {ANALYTICS_CONSENT: False}, {}))
        return granted, withdrawn, never

    return ConsentRule(ANALYTICS_CONSENT, opt_in, answers(inside), answers(outside))


async def _consented(customer_id: str, policy: AnalyticsPolicy, uow: UnitOfWorkFactory) -> bool:
    async with uow(read_only=True) as unit:
        # One statement on PostgreSQL: the customer with their consents.
        found = await unit.customers.reachable(customer_id)
    customer, consents = (found[0], found[1]) if found is not None else (None, {})
    # A sign-in flow not tied to a customer yet has no jurisdiction: the default one.
    jurisdiction = customer.jurisdiction if customer is not None else "default"
    return may_track(jurisdiction, consents, policy.opt_in)


def _refs(milestone: plan.Milestone) -> list[str]:
    return [key for key, p in milestone.properties.items() if p.kind is plan.Kind.REF]


def retry_wait(attempts: int) -> timedelta:
    """The wait after the `attempts`-th failure: 10 s, doubling, at most an hour."""
    wait: timedelta = FIRST_RETRY * (2 ** max(attempts - 1, 0))
    return min(wait, LONGEST_RETRY)


class AnalyticsService:
    """Storefront milestones in, batches out, the dead letters and the funnel report."""

    def __init__(self, uow: UnitOfWorkFactory, queue: TaskQueue, clock: Clock,
                 pending: AnalyticsQueue, destinations: Mapping[str, AnalyticsDestination],
                 policy: AnalyticsPolicy, max_attempts: int, hold_seconds: float = 300.0,
                 batches_per_flush: int = 10) -> None:
        self._uow, self._queue, self._clock = uow, queue, clock
        self._pending, self._destinations, self._policy = pending, destinations, policy
        # A claimed batch is held longer than any call takes (timeouts and quick retries
        # included), so that no other worker sends it meanwhile.
        self._max_attempts, self._hold = max_attempts, timedelta(seconds=hold_seconds)
        self._batches = batches_per_flush

    async def record_milestone(self, customer_id: str, name: str,
                               properties: Mapping[str, Any]) -> str:
        """Queue a storefront milestone; OffPlan when the plan does not allow it as sent or
        it carries personal data (the storefront must not send it at all)."""
        milestone = plan.check(name, properties, plan.Source.STOREFRONT)
        screened = screen(properties, refs=_refs(milestone), keys=self._policy.keys)
        if screened.withheld:
            raise plan.OffPlan(
                "analytics events carry no personal data: " + "; ".join(
                    f"{key!r} {why}" for key, why in sorted(screened.withheld.items())),
                allowed={"event": name,
                         "properties": plan.allowed_from(plan.Source.STOREFRONT)[name]})
        async with self._uow() as uow:
            message_id = await send(uow, TrackEvent(customer_id, milestone.name,
                                                    dict(properties)))
            await commit_and_dispatch(uow, self._queue)
        return message_id

    async def flush(self) -> dict[str, int]:
        """Send what is due to every destination, a few batches each; events sent per
        destination."""
        return {name: await self._flush(destination)
                for name, destination in self._destinations.items()}

    async def _flush(self, destination: AnalyticsDestination) -> int:
        sent = 0
        for _ in range(self._batches):
            now = self._clock.now()
            due = await self._pending.claim_due(destination.name, now, now + self._hold,
                                                destination.batch_size)
            if not due:
                break
            sent += await self._send(destination, due, now)
        return sent

    async def _send(self, destination: AnalyticsDestination, due: Sequence[PendingEvent],
                    now: datetime) -> int:
        rows = {pending.event.message_id: pending for pending in due}
        try:
            receipt = await destination.send_batch([pending.event for pending in due])
        except ProviderUnavailable as exc:  # nothing was taken
            receipt = BatchReceipt(retry=dict.fromkeys(rows, exc.detail))
        for message_id, why in receipt.refused.items():
            log.warning("%s: analytics event %s set aside: %s", destination.name, message_id,
                        why)
            await self._pending.failed([rows[message_id].id], why[:200], now, dead=True)
        if receipt.retry:
            await self._retry_later(destination.name, [rows[m] for m in receipt.retry],
                                    next(iter(receipt.retry.values())), now)
        taken = [row.id for message_id, row in rows.items()
                 if message_id not in receipt.refused and message_id not in receipt.retry]
        await self._pending.sent(taken, now)
        return len(taken)

    async def _retry_later(self, name: str, due: Iterable[PendingEvent], error: str,
                           now: datetime) -> None:
        by_attempts: dict[int, list[str]] = {}
        for pending in due:
            by_attempts.setdefault(pending.attempts + 1, []).append(pending.id)
        for attempts, ids in by_attempts.items():
            dead = attempts >= self._max_attempts
            if dead:
                log.error("%s: %d analytics events gave up after %d attempts: %s", name,
                          len(ids), attempts, error)
            await self._pending.failed(ids, error[:200], now + retry_wait(attempts), dead)

    async def replay(self, destination: str = "") -> dict[str, int]:
        """Dead letters (of one destination, or all) become due again; how many each."""
        names = [destination] if destination else list(self._destinations)
        unknown = [name for name in names if name not in self._destinations]
        if unknown:
            raise DomainError(f"no analytics destination {unknown[0]!r}; configured: "
                              f"{', '.join(self._destinations) or 'none'}")
        now = self._clock.now()
        return {name: await self._pending.replay(name, now) for name in names}

    async def dead_letters(self) -> dict[str, int]:
        return await self._pending.dead_letters()

    async def funnel(self, start: datetime, end: datetime) -> dict[str, Any]:
        """How many of each milestone occurred in [start, end): counts only, the purchase
        funnel's steps in order, then every other event of the plan."""
        if end <= start:
            raise DomainError("the end of the range must be after its start")
        counts = await self._pending.counts(list(plan.PLAN), start, end)
        steps = [{"event": name, "count": counts.get(name, 0)} for name in plan.FUNNEL]
        others = {name: counts.get(name, 0) for name in plan.PLAN if name not in plan.FUNNEL}
        return {"start": start, "end": end, "steps": steps, "other_events": others}
