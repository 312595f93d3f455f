"""The Clock port: time that moves only when the test says so."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

START = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


class FakeClock:
    """A clock that moves only when the test says so."""

    def __init__(self, start: datetime = START) -> None:
        self._now = start

    def now(self) -> datetime:
        return self._now

    def advance(self, **delta: float) -> datetime:
        self._now += timedelta(**delta)
        return self._now
