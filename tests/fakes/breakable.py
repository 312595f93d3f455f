"""The way a test makes a provider fake fail: set its `error`."""

from __future__ import annotations

from typing import TypeVar

T = TypeVar("T")


class Breakable:
    """A fake whose calls raise `error` while it is set, as an outage would."""

    error: Exception | None = None

    def _fail_if_told(self) -> None:
        if self.error is not None:
            raise self.error

    def _record(self, log: list[T], item: T) -> None:
        """A call that keeps what it was handed in `log`: nothing is kept when it fails."""
        self._fail_if_told()
        log.append(item)
