"""Sliding-window rate limits with the `limits` library: counters in this process's memory on
the embedded default, in Redis when it is configured (so every web process counts together)."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping

from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage, RedisStorage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.errors import StorageError

log = logging.getLogger("mall.throttling")


def parse_rules(rules: Mapping[str, str]) -> dict[str, RateLimitItem]:
    """Each scope's limit, read from the `limits` notation ("10 per 15 minutes")."""
    parsed: dict[str, RateLimitItem] = {}
    for scope, rule in rules.items():
        try:
            parsed[scope] = parse(rule)
        except ValueError:
            raise ValueError(f"rate limit {scope!r}: {rule!r} is not a rate such as "
                             "'10 per 15 minutes' or '60 per minute'") from None
    return parsed


def _redis_storage(redis_url: str) -> RedisStorage:
    url = redis_url.replace("unix://", "redis+unix://", 1)
    return RedisStorage(
        f"async+{url}", implementation="redispy", wrap_exceptions=True,
        key_prefix="mall-throttle",
        # A slow Redis must not hold a sign-in for long: past this it is let through.
        socket_timeout=1.0, socket_connect_timeout=1.0)


class LimitsRateLimiter:
    """A moving window (an exact sliding window: each attempt counts for exactly the window's
    length after it was made) per scope and key."""

    def __init__(self, rules: Mapping[str, str], redis_url: str = "") -> None:
        self._rules = parse_rules(rules)
        self._store = "redis" if redis_url else "memory"
        storage = _redis_storage(redis_url) if redis_url else MemoryStorage()
        self._limiter = MovingWindowRateLimiter(storage)

    async def hit(self, scope: str, key: str) -> float | None:
        rule = self._rules[scope]
        try:
            if await self._limiter.hit(rule, scope, key):
                return None
            stats = await self._limiter.get_window_stats(rule, scope, key)
        except StorageError as exc:
            # Failing open: an outage of the counters' store must not lock every customer
            # out; hashing stays capped, so the CPU is still protected.
            log.warning("rate limit %s not checked, the %s store failed: %s", scope,
                        self._store, type(exc.storage_error).__name__)
            return None
        return max(0.0, stats.reset_time - time.time())

    async def clear(self, scope: str, key: str) -> None:
        try:
            await self._limiter.clear(self._rules[scope], scope, key)
        except StorageError as exc:
            log.warning("rate limit %s not cleared, the %s store failed: %s", scope,
                        self._store, type(exc.storage_error).__name__)
