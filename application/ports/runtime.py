"""What the process offers the use cases: the time, background work, periodic runs."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol

from domain.provider_drift import Drift


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware in UTC."""
        ...


class TaskQueue(Protocol):
    """Hands work to background actors, best-effort: called after the commit, it never raises
    (a message the broker does not take is logged and left to the sweep, which re-sends)."""

    def dispatch_outbox(self, message_ids: Sequence[str], delay_seconds: float = 0.0) -> None:
        """Have the messages run, after `delay_seconds` (a retry's wait) when given."""
        ...

    def dispatch_inbox(self, message_id: str) -> None: ...


class PeriodicRuns(Protocol):
    """The cluster-wide record of periodic job runs; claiming a period is the lock."""

    async def claim(self, job: str, period_start: datetime) -> bool:
        """Record that this process runs `job` for the period starting at `period_start`:
        True for exactly one caller per (job, period) across every process sharing the
        database, False for all the others."""
        ...

    async def finish(self, job: str, period_start: datetime, outcome: str) -> None:
        """Record how the run this process claimed ended ("done" or "failed")."""
        ...


def settled(operation_id: str) -> str:
    """What to wait on to be woken only once the operation has a result or has ended (its
    intermediate progress wakes the waiters on `operation_id` alone)."""
    return f"{operation_id}{SETTLED}"


SETTLED = "#settled"


class OperationWatch(Protocol):
    """Wakes whoever waits on an operation once a change to it is committed, in this process
    or (on PostgreSQL) in any other: a waiter reads the operation again instead of polling.
    Waiting on `settled(operation_id)` wakes only for a change that gives it a result or
    ends it."""

    async def wait(self, operation_id: str, within: float) -> bool:
        """Return once the operation has changed, True, or after `within` seconds, False;
        the caller reads it again either way."""
        ...


class DriftReporter(Protocol):
    """Told when a provider's answer drifted from the contract the adapters rely on
    (domain/provider_drift.py); never raises into the provider call that saw it."""

    async def report(self, provider: str, drifts: Sequence[Drift],
                     exchange: Mapping[str, Any]) -> None: ...
