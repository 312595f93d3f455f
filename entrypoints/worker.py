"""Running the actors: in-process beside the web server (embedded mode) or as a worker process
(`python -m entrypoints.worker`) with the Redis broker."""

from __future__ import annotations

import asyncio
import logging
import signal
import threading

import dramatiq

import bootstrap
from bootstrap import Container
from entrypoints import actors

log = logging.getLogger("mall.worker")


class EmbeddedWorker:
    """A Dramatiq worker plus the periodic sweep that re-sends unfinished work."""

    def __init__(self, container: Container) -> None:
        self._container = container
        self._broker = container.broker()
        if actors.SWEEP not in self._broker.actors:
            actors.register(self._broker, container)
        self._worker = dramatiq.Worker(
            self._broker, worker_threads=container.config.worker_threads(), worker_timeout=100)
        self._stop = threading.Event()
        self._sweeper = threading.Thread(target=self._sweep_forever, name="sweeper",
                                         daemon=True)

    def start(self) -> None:
        self._worker.start()
        self._sweeper.start()

    def stop(self) -> None:
        self._stop.set()
        self._worker.stop(timeout=5_000)

    def _sweep_forever(self) -> None:
        config = self._container.config
        interval = config.sweep_interval_seconds()
        every = max(1, round(config.reconcile_interval_seconds() / interval))
        hourly = max(1, round(config.retention_interval_seconds() / interval))
        sweep = self._broker.get_actor(actors.SWEEP)
        reconcile = self._broker.get_actor(actors.RECONCILE)
        retention = self._broker.get_actor(actors.RETENTION)
        ticks = 0
        while not self._stop.wait(interval):
            ticks += 1
            try:
                sweep.send()
                if ticks % every == 0:
                    reconcile.send()
                if ticks % hourly == 0:
                    retention.send()
            except Exception:  # the broker may be briefly away; the next tick tries again
                log.warning("could not schedule the sweep; will retry", exc_info=True)


def main() -> None:
    settings = bootstrap.load_keys(bootstrap.Settings())
    bootstrap.configure_logging(settings.log_level)
    container = bootstrap.build(settings)
    asyncio.run(bootstrap.prepare(container))
    worker = EmbeddedWorker(container)
    stopping = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stopping.set())
    worker.start()
    log.info("worker running (%s broker)", "redis" if settings.redis_url else "in-memory")
    stopping.wait()
    log.info("worker stopping")
    worker.stop()


if __name__ == "__main__":
    from entrypoints.cli import main as cli_main

    raise SystemExit(cli_main(["worker"]))
