"""How deep a piece of work runs: the chain of the project's own calls from an entry point
(a route, an actor) down to the repository method that changes the state."""

from __future__ import annotations

import functools
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
OWN = tuple(str(ROOT / package) for package in ("domain", "application", "adapters",
                                                 "entrypoints"))


@contextmanager
def call_paths(owner: Any, method: str, entry: str) -> Iterator[list[list[str]]]:
    """While the block runs, every call of `owner.method` records the chain of the project's
    frames from the function whose qualified name is `entry` (excluded) down to it
    (included). Awaited coroutines are on the chain; work handed to another task is not."""
    paths: list[list[str]] = []
    original = getattr(owner, method)

    @functools.wraps(original)
    async def recorded(*args: Any, **kwargs: Any) -> Any:
        chain: list[str] = [method]
        frame = sys._getframe(1)
        while frame is not None and frame.f_code.co_qualname != entry:
            if frame.f_code.co_filename.startswith(OWN):
                chain.append(frame.f_code.co_qualname)
            frame = frame.f_back
        if frame is not None:
            paths.append(list(reversed(chain)))
        return await original(*args, **kwargs)

    setattr(owner, method, recorded)
    try:
        yield paths
    finally:
        setattr(owner, method, original)
