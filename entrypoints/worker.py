"""Running the actors: in-process beside the web server (embedded mode) or as a worker process
(`mall worker`, or `python -m entrypoints.cli worker`) with the Redis broker. The command line
starts it; it never imports the command line back."""

from __future__ import annotations

import asyncio
import logging
import signal
import threading
import time
from collections.abc import Callable

import dramatiq

import bootstrap
from bootstrap import Container
from entrypoints import actors

log = logging.getLogger("mall.worker")
CATCH_UP = 3  # periods a late scheduler tick still sends, per job


class EmbeddedWorker:
    """A Dramatiq worker plus the scheduler of the periodic jobs (the sweep that re-sends
    unfinished work, reconciliation, retention, ...)."""

    def __init__(self, container: Container) -> None:
        self._container = container
        self._broker = container.broker()
        if actors.SWEEP not in self._broker.actors:
            actors.register(self._broker, container)
        self._worker = dramatiq.Worker(
            self._broker, worker_threads=container.config.worker_threads(), worker_timeout=100)
        self._stop = threading.Event()
        self._sweeper = threading.Thread(target=self._schedule_forever, name="scheduler",
                                         daemon=True)

    def start(self) -> None:
        self._worker.start()
        self._sweeper.start()

    def stop(self) -> None:
        self._stop.set()
        self._worker.stop(timeout=5_000)

    def _schedule_forever(self) -> None:
        """Send each periodic job when one of its periods starts. Periods are aligned to the
        clock, so every worker process sends for the same period and the job's actor lets
        one of them run (see application.periodic)."""
        periods = actors.periods(self._container)
        tick = min(periods.values())
        sent = {name: int(time.time() // period) for name, period in periods.items()}
        while not self._stop.wait(tick - time.time() % tick):
            now = time.time()
            for name, period in periods.items():
                index = int(now // period)
                # A tick that came late (a busy machine) still sends the periods it passed,
                # the last few of them: each runs once, late rather than never.
                for missed in range(max(sent[name] + 1, index - CATCH_UP + 1), index + 1):
                    try:
                        # The message names its period: however late it is taken, it claims
                        # the period it was sent for.
                        self._broker.get_actor(name).send(missed * period)
                        sent[name] = missed
                    except Exception:  # the broker may be away; the next tick tries again
                        log.warning("could not schedule %s; will retry", name, exc_info=True)
                        break


def main(settings: bootstrap.Settings, container: Container,
         ready: Callable[[], None] | None = None) -> None:
    """Run the worker until SIGINT or SIGTERM, with the settings `mall worker` read and
    checked; `ready` is told once it takes messages (`mall worker --processes N`)."""
    asyncio.run(bootstrap.prepare(container))
    worker = EmbeddedWorker(container)
    stopping = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stopping.set())
    worker.start()
    log.info("worker running (%s broker)", "redis" if settings.redis_url else "in-memory")
    if ready is not None:
        ready()
    stopping.wait()
    log.info("worker stopping")
    worker.stop()
