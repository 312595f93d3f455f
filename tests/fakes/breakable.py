"""The way a test makes a provider fake fail: set its `error`."""

from __future__ import annotations


class Breakable:
    """A fake whose calls raise `error` while it is set, as an outage would."""

    error: Exception | None = None

    def _fail_if_told(self) -> None:
        if self.error is not None:
            raise self.error
