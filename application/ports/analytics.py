"""Analytics: the services events are delivered to in batches, and the durable queue of
events waiting for them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol, runtime_checkable

from application.ports.messaging import AnalyticsEvent


@dataclass(frozen=True)
class BatchReceipt:
    """What became of a batch, by message id: `refused` events (too large, a name the
    service does not allow, a request it refused as malformed) are never sent again, `retry`
    ones (the service was down or busy) are tried again later; the rest were taken."""

    refused: dict[str, str] = field(default_factory=dict)
    retry: dict[str, str] = field(default_factory=dict)


class AnalyticsDestination(Protocol):
    """An analytics service (Segment, GA4, the log). `send_batch` sends the events, split
    into as many requests as the service's limits need, each request once; a request that
    fails stops the sending, and its events and the unsent ones are in the receipt."""

    name: str
    batch_size: int  # how many events one call takes at most

    async def send_batch(self, events: Sequence[AnalyticsEvent]) -> BatchReceipt: ...


@dataclass(frozen=True)
class PendingEvent:
    id: str  # the row: one per event and destination
    event: AnalyticsEvent
    attempts: int


class AnalyticsQueue(Protocol):
    """The events waiting for each destination, kept in the database. `track` (the
    AnalyticsSink) keeps an event once per destination, whatever how often it is given."""

    async def track(self, event: AnalyticsEvent) -> None: ...

    async def claim_due(self, destination: str, now: datetime, hold_until: datetime,
                        limit: int) -> list[PendingEvent]:
        """The oldest events due for `destination`, held until `hold_until` so that another
        worker does not send them at the same time."""
        ...

    async def sent(self, ids: Sequence[str], now: datetime) -> None: ...

    async def failed(self, ids: Sequence[str], error: str, next_attempt_at: datetime,
                     dead: bool) -> None: ...

    async def replay(self, destination: str, now: datetime) -> int:
        """Dead letters of `destination` become due again; how many."""
        ...

    async def dead_letters(self) -> dict[str, int]:
        """How many events each destination gave up on."""
        ...

    async def counts(self, names: Sequence[str], start: datetime,
                     end: datetime) -> dict[str, int]:
        """How many events of each name occurred in [start, end), each counted once."""
        ...


@dataclass(frozen=True)
class ConsentRule:
    """Whether a customer's events may be sent, for each state their analytics consent can
    be in (granted, withdrawn, never given): where their jurisdiction is one of `opt_in`
    (`required`), and where it is not (`elsewhere`). The domain answers each state; a queue
    applies the answers where it reads the consent."""

    purpose: str
    opt_in: frozenset[str]
    required: tuple[bool, bool, bool]
    elsewhere: tuple[bool, bool, bool]


@dataclass
class ConsentSeen:
    """What a queue read of a customer as it kept (or not) their event: filled in once the
    statement ran. `jurisdiction` is "default" for no such customer; `consent` None when
    never given."""

    jurisdiction: str = ""
    consent: bool | None = None
    kept: bool = False
    read: bool = False


@runtime_checkable
class ConsentCheckingQueue(Protocol):
    """A queue that checks the customer's consent in the statement that keeps their event
    (one round trip instead of a read, then a write)."""

    async def track_if_consented(self, event: AnalyticsEvent, customer_id: str,
                                 rule: ConsentRule) -> ConsentSeen: ...

    async def forget(self, message_id: str) -> None:
        """Drop an event kept for every destination that has not sent it yet."""
        ...
