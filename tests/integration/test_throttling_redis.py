"""Sign-in limits counted in Redis: every web process shares the counters, and a Redis that
does not answer lets sign-ins through instead of locking everyone out."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from typing import Any

import pytest
import redis.asyncio as redis

import bootstrap
from adapters.throttling import LimitsRateLimiter
from application.throttling import SIGN_IN, Throttle
from domain.errors import TooManyAttempts
from tests.conftest import REDIS_URL, need


@pytest.fixture
def engine_name() -> str:
    return "sqlite"  # no database is touched here


@pytest.mark.redis
async def test_web_processes_share_the_counters_in_redis(
    settings_factory: Callable[..., bootstrap.Settings],
) -> None:
    need("Redis", REDIS_URL, 6379)
    settings = settings_factory(redis_url=REDIS_URL, embedded_worker=False,
                                rate_limits={"sign_in.account": "4 per 15 minutes"})
    # Two containers on one Redis and the same keys: two web processes behind a balancer.
    first, second = bootstrap.build(settings), bootstrap.build(settings)
    email = f"shared.{uuid.uuid4().hex[:8]}@example.com"
    for container in (first, second, first, second):
        await container.throttle().attempt(SIGN_IN, account=email, address="203.0.113.9")
    with pytest.raises(TooManyAttempts) as refused:
        await second.throttle().attempt(SIGN_IN, account=email, address="203.0.113.9")
    assert 1 <= refused.value.retry_after <= 15 * 60
    with pytest.raises(TooManyAttempts):
        await first.throttle().attempt(SIGN_IN, account=email)
    # The owner's success in one process frees the account in the other.
    await first.throttle().succeeded(SIGN_IN, account=email)
    await second.throttle().attempt(SIGN_IN, account=email)


@pytest.mark.redis
async def test_redis_holds_pseudonyms_never_the_address_or_the_email() -> None:
    need("Redis", REDIS_URL, 6379)
    email = f"private.{uuid.uuid4().hex[:8]}@example.com"
    limiter = LimitsRateLimiter({"sign_in.account": "3 per minute",
                                 "sign_in.address": "3 per minute"}, REDIS_URL)
    await Throttle(limiter, b"k" * 32).attempt(SIGN_IN, account=email, address="192.0.2.77")
    client = redis.Redis.from_url(REDIS_URL)
    try:
        keys = [key.decode() async for key in client.scan_iter("mall-throttle*")]
    finally:
        await client.aclose()
    assert keys
    assert not [key for key in keys if email in key or "192.0.2.77" in key]


async def test_an_unreachable_redis_lets_sign_ins_through_and_says_so(
    caplog: pytest.LogCaptureFixture, unused_tcp_port: int,
) -> None:
    limiter = LimitsRateLimiter({"sign_in.account": "1 per minute"},
                                f"redis://127.0.0.1:{unused_tcp_port}/0")
    caplog.set_level(logging.WARNING, logger="mall.throttling")
    results: list[Any] = [await limiter.hit("sign_in.account", "anon_x") for _ in range(3)]
    assert results == [None, None, None]
    assert any("not checked" in r.getMessage() for r in caplog.records)
