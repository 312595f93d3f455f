"""What a process keeps in memory from the database and reads again once it is a few
seconds old, on the next use, in the background: a caller never waits on the database,
and a change made anywhere takes effect everywhere within `max_age` seconds."""

from __future__ import annotations

import asyncio
import contextvars
import logging
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from typing import Any, TypeVar, overload

log = logging.getLogger("mall.providers")

T = TypeVar("T")


class ReadAgainWhenOld(ABC):
    def __init__(self, max_age: float) -> None:
        self._max_age = max_age
        self._read_at = float("-inf")
        self._reading: asyncio.Task[None] | None = None

    async def refresh(self) -> None:
        """Read now (at once after a change this process made)."""
        await self._read()
        self._read_at = time.monotonic()

    @abstractmethod
    async def _read(self) -> None:
        """Read what is kept from the database."""

    def _fresh_enough(self) -> None:
        """Called on each use: starts a read in the background when what is kept is old."""
        if time.monotonic() - self._read_at <= self._max_age:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # no loop (a CLI check): what is kept stands
        if self._reading is not None and not self._reading.done():
            return
        # A context of its own: no transaction of the caller's is carried into it.
        self._reading = loop.create_task(self._refresh_quietly(),
                                         context=contextvars.Context())

    async def _refresh_quietly(self) -> None:
        try:
            await self.refresh()
        except Exception as exc:  # what is kept stands until the next try
            log.warning("%s could not read the database: %s", type(self).__name__,
                        type(exc).__name__)
            self._read_at = time.monotonic()


class LiveSequence(Sequence[T], ABC):
    """What is in force now, read as a list each time it is used."""

    @abstractmethod
    def _current(self) -> list[T]:
        """The values in force."""

    @overload
    def __getitem__(self, index: int) -> T: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[T]: ...

    def __getitem__(self, index: Any) -> Any:
        return self._current()[index]

    def __len__(self) -> int:
        return len(self._current())

    def __iter__(self) -> Iterator[T]:
        return iter(self._current())
