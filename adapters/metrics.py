"""What operators watch, in the Prometheus format (prometheus-client).

Counters and histograms are counted where things happen (the web edge, the HTTP client of
the providers, the sandboxes' simulated calls); the figures that live in the database
(backlogs, open incidents, the evidence chain) are read when /metrics is scraped. Worker
processes count in the same families: with PROMETHEUS_MULTIPROC_DIR set (one directory
shared by every process of a machine), a scrape of any web process shows them all.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Mapping
from datetime import timedelta
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import REGISTRY, Collector

from adapters.checkpoints import FileCheckpointStore
from adapters.persistence.figures import HELP, database_figures
from application.ports import Clock

REQUESTS = Counter("mall_http_requests", "Requests answered, by route template and status",
                   ["method", "route", "status"])
REQUEST_SECONDS = Histogram("mall_http_request_duration_seconds",
                            "Time to answer a request, by route template", ["method", "route"])
PROVIDER_CALLS = Counter(
    "mall_provider_calls", "Calls to providers by outcome: ok, an HTTP status class (http_4xx, "
    "http_5xx), timeout, unreachable, unavailable, circuit_open", ["provider", "outcome"])
PROVIDER_SECONDS = Histogram("mall_provider_call_duration_seconds",
                             "Time a provider took to answer", ["provider"])
# 0 closed (calls go through), 1 half-open (one trial call), 2 open (calls are not sent).
BREAKER_STATES = {"closed": 0, "half-opened": 1, "opened": 2}
BREAKER = Gauge("mall_provider_breaker_state",
                "A provider's circuit: 0 closed, 1 half-open, 2 open", ["provider"],
                multiprocess_mode="max")


def request_answered(method: str, route: str, status: int, seconds: float) -> None:
    REQUESTS.labels(method, route, str(status)).inc()
    REQUEST_SECONDS.labels(method, route).observe(seconds)


# Per provider and minute of the last hour: calls, failures, seconds spent (this process's),
# for the operations console's charts.
HISTORY_MINUTES = 60
_history: dict[str, dict[int, list[float]]] = {}


def provider_call(provider: str, outcome: str, seconds: float | None = None) -> None:
    PROVIDER_CALLS.labels(provider, outcome).inc()
    if seconds is not None:
        PROVIDER_SECONDS.labels(provider).observe(seconds)
    minute = int(time.time() // 60)
    minutes = _history.setdefault(provider, {})
    figures = minutes.get(minute)
    if figures is None:  # a new minute: the one an hour old goes
        figures = minutes[minute] = [0.0, 0.0, 0.0]
        for old in [m for m in minutes if m <= minute - HISTORY_MINUTES]:
            del minutes[old]
    figures[0] += 1
    figures[1] += outcome != "ok"
    figures[2] += seconds or 0.0


def provider_health() -> list[dict[str, Any]]:
    """Each provider called in the last hour: its circuit, and per minute (oldest first) its
    calls, failures and mean latency in milliseconds."""
    now = int(time.time() // 60)
    health = []
    for provider in sorted(_history):
        minutes = _history[provider]
        series = []
        for minute in range(now - HISTORY_MINUTES + 1, now + 1):
            calls, errors, seconds = minutes.get(minute, (0.0, 0.0, 0.0))
            series.append({"calls": int(calls), "errors": int(errors),
                           "latency_ms": round(1000 * seconds / calls, 1) if calls else 0.0})
        state = BREAKER.labels(provider)._value.get()
        health.append({"provider": provider, "breaker": {0: "closed", 1: "half-open",
                                                          2: "open"}.get(int(state), "closed"),
                       "calls": sum(m["calls"] for m in series),
                       "errors": sum(m["errors"] for m in series), "minutes": series})
    return health


def breaker_state(provider: str, state: str) -> None:
    BREAKER.labels(provider).set(BREAKER_STATES.get(state, 0))


def outcome_of(status: int | None, error: str | None) -> str:
    """The outcome label of one HTTP exchange."""
    if status is not None:
        return "ok" if status < 400 else f"http_{status // 100}xx"
    if error and ("Timeout" in error or "timed out" in error):
        return "timeout"
    return "unreachable"


class StateCollector(Collector):
    """Figures read from the database at scrape time (adapters/persistence/figures.py)."""

    def __init__(self, figures: Mapping[str, Iterable[tuple[dict[str, str], float]]],
                 helps: Mapping[str, str]) -> None:
        self._figures, self._helps = figures, helps

    def collect(self) -> Iterable[GaugeMetricFamily]:
        for name, samples in self._figures.items():
            samples = list(samples)
            labels = sorted({key for sample_labels, _ in samples for key in sample_labels})
            family = GaugeMetricFamily(name, self._helps[name], labels=labels)
            for sample_labels, value in samples:
                family.add_metric([sample_labels.get(key, "") for key in labels], value)
            yield family


def exposition(state: StateCollector) -> bytes:
    """This process's counters (every process's, in multiprocess mode) and the state."""
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        counted = generate_latest(registry)
    else:
        counted = generate_latest(REGISTRY)
    state_registry = CollectorRegistry()
    state_registry.register(state)
    return counted + generate_latest(state_registry)


class MetricsPage:
    """What /metrics answers: the counters and the database's figures, read now."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self, clock: Clock, checkpoints: FileCheckpointStore,
                 slow_after: timedelta) -> None:
        self._clock, self._checkpoints, self._slow_after = clock, checkpoints, slow_after

    async def figures(self) -> dict[str, list[tuple[dict[str, str], float]]]:
        return await database_figures(self._clock.now(), self._slow_after,
                                      await self._checkpoints.last_seq())

    def provider_health(self) -> list[dict[str, Any]]:
        return provider_health()

    async def render(self) -> bytes:
        return exposition(StateCollector(await self.figures(), HELP))
