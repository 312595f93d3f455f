"""Where a SQLite purchase waits: the SQLite write lock.

Runs `bench.order_payment_roundtrip --sqlite` (its arguments are passed on) with every call
aiosqlite hands to its connection threads timed: how long each kind of statement took in its
thread (a `BEGIN IMMEDIATE` or an autocommit write that waits for another writer sleeps in
SQLite's busy handler there), and how long each write transaction held the lock, from its
`BEGIN IMMEDIATE` to its `COMMIT` or `ROLLBACK`.

    .venv/bin/python -m bench.sqlite_locks [--iterations 15]
"""

from __future__ import annotations

import sys
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import aiosqlite.core

from bench import order_payment_roundtrip

calls: Counter[str] = Counter()
in_thread: Counter[str] = Counter()
holds: list[float] = []
_begun: dict[int, float] = {}
_send = aiosqlite.core.Connection._execute


def _kind(function: Callable[..., Any], args: tuple[Any, ...]) -> str:
    name = getattr(function, "__name__", "?")
    if name == "execute" and args:
        return " ".join(str(args[0]).split()[:3])[:40]
    return name


async def _timed(self: Any, function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    kind = _kind(function, args)

    def run() -> Any:
        started = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            in_thread[kind] += time.perf_counter() - started

    try:
        return await _send(self, run)
    finally:
        calls[kind] += 1
        now = time.perf_counter()
        if kind.startswith("BEGIN"):
            _begun[id(self)] = now
        elif kind.startswith(("COMMIT", "ROLLBACK")) and id(self) in _begun:
            holds.append(now - _begun.pop(id(self)))


def report() -> None:
    if holds:
        held = sorted(holds)
        print(f"  write lock held: {len(held)} transactions, {sum(held) * 1000:.0f} ms in "
              f"all; p50 {held[len(held) // 2] * 1000:.1f} ms, "
              f"p90 {held[int(len(held) * 0.9)] * 1000:.1f} ms, max {held[-1] * 1000:.1f} ms")
    print("  in SQLite's threads, by statement (busy-handler waits included):")
    for kind, seconds in in_thread.most_common(8):
        print(f"    {kind:42s} {calls[kind]:6d} calls {seconds * 1000:8.0f} ms "
              f"({seconds / calls[kind] * 1000:.1f} ms each)")


def main() -> None:
    aiosqlite.core.Connection._execute = _timed  # type: ignore[method-assign]
    sys.argv = [sys.argv[0], "--sqlite", *sys.argv[1:]]
    try:
        order_payment_roundtrip.main()
    finally:
        report()


if __name__ == "__main__":
    main()
