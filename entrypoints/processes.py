"""Running one job in N child processes: `mall serve --workers N`, `mall worker --processes N`.

Children are spawned, not forked: each builds its own event loop, pools and threads. They
run in process groups of their own, so a Ctrl+C reaches this supervisor alone, which asks
each child once (SIGTERM) to stop gracefully. A child that dies is started again (everything
it was doing is in the database, and the sweep and the broker give its work to another); a
child that exits with 2 could not start (a setting, the port), so all of them stop.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import queue
import signal
import sys
import threading
import time
from collections.abc import Callable
from multiprocessing.connection import wait
from typing import Any

log = logging.getLogger("mall.processes")

CANNOT_START = 2  # the command line's exit code for a setting or a port it cannot use
STOP_SECONDS = 30.0  # a child still running this long after SIGTERM is killed
RESTART_PAUSE = 1.0  # between restarts of a child that dies at once


def run_processes(count: int, target: Callable[[Any], int], *, name: str,
                  on_ready: Callable[[], None]) -> int:
    """Run `target(ready)` in `count` children until SIGTERM or SIGINT; `ready.put(pid)`
    tells the supervisor a child is serving, and `on_ready` runs once all first have."""
    context = multiprocessing.get_context("spawn")
    ready: Any = context.Queue()
    children: dict[Any, tuple[int, Any, float]] = {}  # sentinel: index, process, start
    stopping = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stopping.set())
                for sig in (signal.SIGINT, signal.SIGTERM)}

    def start(index: int) -> None:
        process = context.Process(target=_child, args=(target, ready, os.getpid()),
                                  name=f"{name}-{index + 1}")
        process.start()
        children[process.sentinel] = (index, process, time.monotonic())

    for index in range(count):
        start(index)
    reported, announced, exit_code = 0, False, 0
    try:
        while not stopping.is_set():
            for sentinel in wait(list(children), timeout=0.2):
                index, process, started = children.pop(sentinel)
                process.join()
                if process.exitcode == CANNOT_START:
                    exit_code = CANNOT_START
                    stopping.set()
                    break
                log.warning("%s (pid %s) exited with %s; starting another", process.name,
                            process.pid, process.exitcode)
                time.sleep(max(0.0, started + RESTART_PAUSE - time.monotonic()))
                start(index)
            reported += _drain(ready)
            if not announced and reported >= count:
                on_ready()
                announced = True
    finally:
        _stop([process for _, process, _ in children.values()])
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return exit_code


def _drain(ready: Any) -> int:
    got = 0
    while True:
        try:
            ready.get_nowait()
        except queue.Empty:
            return got
        got += 1


def _stop(processes: list[Any]) -> None:
    """SIGTERM to every child at once, then wait; kill one still running after the grace."""
    for process in processes:
        if process.is_alive():
            process.terminate()
    deadline = time.monotonic() + STOP_SECONDS
    for process in processes:
        process.join(max(0.0, deadline - time.monotonic()))
        if process.is_alive():
            log.warning("%s (pid %s) did not stop in time; killing it", process.name,
                        process.pid)
            process.kill()
            process.join()


def _child(target: Callable[[Any], int], ready: Any, supervisor: int) -> None:
    os.setpgrp()  # the terminal's Ctrl+C goes to the supervisor, which stops us once

    def orphaned() -> None:  # the supervisor was killed: stop instead of serving on alone
        while os.getppid() == supervisor:
            time.sleep(1.0)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=orphaned, name="supervisor-watch", daemon=True).start()
    sys.exit(target(ready))
