"""Where a SQLite purchase waits: the SQLite write lock.

Runs `bench.order_payment_roundtrip --sqlite` (its arguments are passed on) with every trip
aiosqlite makes to its connection threads timed: how long each kind took in its thread (a
writer waits there for the lock, at the engine's write gate), and how long each writer
waited for the gate and then held it (warm_sqlite.WriteGate: held from before its BEGIN
IMMEDIATE, or its write on its own, until its COMMIT or ROLLBACK).

    .venv/bin/python -m bench.sqlite_locks [--iterations 15]
"""

from __future__ import annotations

import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import aiosqlite.core

from adapters.persistence.warm_sqlite import WriteGate
from bench import order_payment_roundtrip

calls: Counter[str] = Counter()
in_thread: Counter[str] = Counter()
holds: list[float] = []
_begun: dict[int, float] = {}
waits: list[float] = []
held_by: Counter[str] = Counter()  # by the trip that took the gate
held_times: Counter[str] = Counter()
_began_with: dict[int, str] = {}
_trip = threading.local()  # the kind of trip running in this connection thread
_send = aiosqlite.core.Connection._execute
_gate_enter, _gate_leave = WriteGate.enter, WriteGate.leave_if_done


def _kind(function: Callable[..., Any], args: tuple[Any, ...]) -> str:
    name = getattr(function, "__name__", "?")
    if name == "_run_steps":  # (connection, gate, [(sql, args), ...], ...): one trip
        sqls = [sql for sql, _ in args[2]]
        first = " ".join(sqls[0].split()[:3])[:30]
        return f"trip: {first}" + (f" +{len(sqls) - 1}" if len(sqls) > 1 else "")
    if name in ("execute", "_execute_fetchall") and args:
        return " ".join(str(args[0]).split()[:3])[:40]
    return name


async def _timed(self: Any, function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    kind = _kind(function, args)

    def run() -> Any:
        started = time.perf_counter()
        _trip.kind = kind
        try:
            return function(*args, **kwargs)
        finally:
            in_thread[kind] += time.perf_counter() - started

    try:
        return await _send(self, run)
    finally:
        calls[kind] += 1


def _enter(gate: WriteGate, connection: Any) -> None:
    """The write gate's enter, timed: how long a writer waited for it, and from when it
    held it (the gate is held exactly as long as SQLite's write lock, or longer)."""
    held = gate._holder is connection
    started = time.perf_counter()
    _gate_enter(gate, connection)
    if not held and gate._holder is connection:
        now = time.perf_counter()
        waits.append(now - started)
        _begun[id(connection)] = now
        _began_with[id(connection)] = getattr(_trip, "kind", "?")


def _leave(gate: WriteGate, connection: Any) -> None:
    held = gate._holder is connection
    _gate_leave(gate, connection)
    if held and gate._holder is not connection and id(connection) in _begun:
        held = time.perf_counter() - _begun.pop(id(connection))
        holds.append(held)
        kind = _began_with.pop(id(connection), "?")
        held_by[kind] += held
        held_times[kind] += 1


def _spread(seconds: list[float]) -> str:
    ordered = sorted(seconds)
    return (f"{len(ordered)} times, {sum(ordered) * 1000:.0f} ms in all; "
            f"p50 {ordered[len(ordered) // 2] * 1000:.1f} ms, "
            f"p90 {ordered[int(len(ordered) * 0.9)] * 1000:.1f} ms, "
            f"max {ordered[-1] * 1000:.1f} ms")


def report() -> None:
    if holds:
        print(f"  write lock held: {_spread(holds)}")
    if waits:
        print(f"  waited for it:   {_spread(waits)}")
    print("  held, by the trip that took it:")
    for kind, seconds in held_by.most_common(8):
        print(f"    {kind:42s} {held_times[kind]:6d} times {seconds * 1000:8.0f} ms "
              f"({seconds / held_times[kind] * 1000:.1f} ms each)")
    print("  in SQLite's threads, by trip (waits for the lock included):")
    for kind, seconds in in_thread.most_common(8):
        print(f"    {kind:42s} {calls[kind]:6d} calls {seconds * 1000:8.0f} ms "
              f"({seconds / calls[kind] * 1000:.1f} ms each)")


def main() -> None:
    aiosqlite.core.Connection._execute = _timed  # type: ignore[method-assign]
    WriteGate.enter, WriteGate.leave_if_done = _enter, _leave  # type: ignore[method-assign]
    sys.argv = [sys.argv[0], "--sqlite", *sys.argv[1:]]
    try:
        order_payment_roundtrip.main()
    finally:
        report()


if __name__ == "__main__":
    main()
