"""Sign-in throttling end to end: what a stranger can repeat (password guesses, sign-ups,
emailed links, password resets, provider sign-ins) is limited per account and per client
address, answered 429 with Retry-After and a message, and a refused guess costs no argon2."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from adapters.persistence import tables as t
from bench._harness import count_password_checks
from tests.helpers import eventually

pytestmark = pytest.mark.timeout(120)

PASSWORD = "correct horse battery"


@pytest.fixture
def engine_name() -> str:
    """The counters live in the limiter's store, not in the database: one engine is enough."""
    return "sqlite"


async def login(shop: Any, email: str, password: str, **headers: str) -> Any:
    return await shop.client.post("/v1/auth/login", json={"email": email, "password": password},
                                  headers=headers)


async def statuses_of(times: int, send: Callable[[], Awaitable[Any]]) -> tuple[list[int], Any]:
    """Send one request `times` times, one after another: the statuses, and the last
    response."""
    statuses = []
    for _ in range(times):
        response = await send()
        statuses.append(response.status)
    return statuses, response


async def assert_throttled(response: Any, *, whose: str, longest: int) -> dict[str, Any]:
    assert response.status == 429, await response.text()
    assert response.content_type == "application/problem+json"
    wait = int(response.headers["Retry-After"])
    assert 1 <= wait <= longest
    body = dict(await response.json())
    assert body["type"] == "/problems/too-many-requests" and body["retryable"] is True
    assert whose in body["detail"] and "Wait" in body["detail"], body["detail"]
    return body


async def test_a_burst_of_wrong_passwords_is_stopped_and_the_refusals_cost_no_argon2(
    shop: Any,
) -> None:
    email = f"target.{uuid.uuid4().hex[:8]}@example.com"
    await shop.sign_up(email)
    checks = count_password_checks(shop.container)

    statuses = [(await login(shop, email, f"guess number {n}")).status for n in range(30)]
    # The default: 10 failed sign-ins per account per 15 minutes.
    assert statuses == [401] * 10 + [429] * 20, statuses
    assert checks[0] == 10  # the 20 refused guesses never reached argon2
    refused = await login(shop, email, "one more guess")
    body = await assert_throttled(refused, whose="for this account", longest=15 * 60)
    assert "password/forgot" in body["detail"]
    assert "email" not in body and email not in await refused.text()

    # While the account is limited, the right password waits too: a guesser who hits it
    # learns nothing.
    right = await login(shop, email, PASSWORD)
    await assert_throttled(right, whose="for this account", longest=15 * 60)
    assert checks[0] == 10
    # The same address may still sign in to another account.
    other = f"other.{uuid.uuid4().hex[:8]}@example.com"
    await shop.sign_up(other)


async def test_an_unknown_address_is_limited_like_a_known_one(shop: Any) -> None:
    statuses = [(await login(shop, "nobody.here@example.com", f"guess {n}")).status
                for n in range(11)]
    assert statuses == [401] * 10 + [429]
    # Spelling the address differently is the same account.
    again = await login(shop, "  nobody.here@EXAMPLE.com ", "guess 12")
    await assert_throttled(again, whose="for this account", longest=15 * 60)


async def test_a_success_forgets_the_accounts_failures(shop: Any) -> None:
    email = f"forgetful.{uuid.uuid4().hex[:8]}@example.com"
    await shop.sign_up(email)  # one successful sign-in already
    for n in range(9):
        assert (await login(shop, email, f"typo {n}")).status == 401
    assert (await login(shop, email, PASSWORD)).status == 200
    statuses = [(await login(shop, email, f"typo again {n}")).status for n in range(11)]
    assert statuses == [401] * 10 + [429]


async def test_each_client_address_is_limited_across_accounts(shop_factory: Any) -> None:
    shop = await shop_factory(client_address_header="X-Real-IP",
                              rate_limits={"sign_in.address": "5 per minute"})
    tries = [await login(shop, f"spray{n}@example.com", "Summer2026!",
                         **{"X-Real-IP": "203.0.113.7"}) for n in range(5)]
    assert [r.status for r in tries] == [401] * 5
    sixth = await login(shop, "spray5@example.com", "Summer2026!", **{"X-Real-IP": "203.0.113.7"})
    await assert_throttled(sixth, whose="from your network", longest=60)
    # Another client is not held back by that one.
    other = await login(shop, "spray5@example.com", "Summer2026!", **{"X-Real-IP": "198.51.100.2"})
    assert other.status == 401
    # Addresses the client writes in front of the one our proxy appends change nothing.
    spoofed = await login(shop, "spray6@example.com", "Summer2026!",
                          **{"X-Real-IP": "192.0.2.1, 203.0.113.7"})
    await assert_throttled(spoofed, whose="from your network", longest=60)
    # IPv6 counts by /64: hopping within one subscriber's block gains nothing.
    v6 = [(await login(shop, f"v6-{n}@example.com", "Summer2026!",
                       **{"X-Real-IP": f"2001:db8:1:2::{n + 1:x}"})).status for n in range(6)]
    assert v6 == [401] * 5 + [429]


async def test_sign_ups_are_limited_per_address_and_per_email(shop_factory: Any) -> None:
    shop = await shop_factory(rate_limits={"registration.address": "3 per hour"})
    created = []
    for n in range(3):
        response = await shop.client.post("/v1/auth/register", json={
            "email": f"bulk{n}.{uuid.uuid4().hex[:6]}@example.com", "password": PASSWORD})
        assert response.status == 201, await response.text()
        created.append((await response.json())["id"])
    fourth = await shop.client.post("/v1/auth/register", json={
        "email": f"bulk3.{uuid.uuid4().hex[:6]}@example.com", "password": PASSWORD})
    await assert_throttled(fourth, whose="from your network", longest=3600)
    assert await t.Customer.count() == 3


async def test_registering_one_email_over_and_over_is_limited(shop: Any) -> None:
    email = f"again.{uuid.uuid4().hex[:8]}@example.com"
    statuses, last = await statuses_of(6, lambda: shop.client.post(
        "/v1/auth/register", json={"email": email, "password": PASSWORD}))
    assert statuses == [201, 409, 409, 409, 409, 429]  # default: 5 per email per hour
    await assert_throttled(last, whose="for this account", longest=3600)


async def test_emailed_links_are_limited_per_account_whichever_way_they_are_asked_for(
    shop: Any,
) -> None:
    email = f"inbox.{uuid.uuid4().hex[:8]}@example.com"
    auth = await shop.sign_up(email)
    for _ in range(3):
        response = await shop.client.post("/v1/auth/email/verification", headers=auth)
        assert response.status == 202, await response.text()
    for _ in range(2):
        response = await shop.client.post("/v1/auth/password/forgot", json={"email": email})
        assert response.status == 202
    # Five emails to one mailbox within the hour: the sixth of either kind waits.
    forgot = await shop.client.post("/v1/auth/password/forgot", json={"email": email})
    await assert_throttled(forgot, whose="for this account", longest=3600)
    resend = await shop.client.post("/v1/auth/email/verification", headers=auth)
    await assert_throttled(resend, whose="for this account", longest=3600)
    # An address without an account gets the same answers (nothing tells them apart).
    statuses, _ = await statuses_of(6, lambda: shop.client.post(
        "/v1/auth/password/forgot", json={"email": "ghost@example.com"}))
    assert statuses == [202] * 5 + [429]


async def test_password_resets_are_limited_per_address(shop_factory: Any) -> None:
    shop = await shop_factory(rate_limits={"password_reset.address": "2 per hour"})
    statuses, last = await statuses_of(3, lambda: shop.client.post("/v1/auth/password/reset", json={
        "token": "not.a.token-but-long-enough", "password": "a brand new passphrase"}))
    assert statuses == [401, 401, 429]
    await assert_throttled(last, whose="from your network", longest=3600)


async def test_provider_sign_ins_are_limited_per_address(shop_factory: Any) -> None:
    shop = await shop_factory(rate_limits={"provider_start.address": "3 per minute"})
    for _ in range(3):
        started = await shop.client.get("/v1/auth/sandbox/start", allow_redirects=False)
        assert started.status == 302
    refused = await shop.client.get("/v1/auth/sandbox/start", allow_redirects=False)
    await assert_throttled(refused, whose="from your network", longest=60)
    assert await t.AuthFlow.count() == 3  # the refused start stored no flow


def test_a_limit_that_is_not_a_rate_is_refused_at_start(settings_factory: Any) -> None:
    with pytest.raises(ValueError, match=r"sign_in\.account.*'ten a minute' is not a rate"):
        settings_factory(rate_limits={"sign_in.account": "ten a minute"})
    with pytest.raises(ValueError, match=r"unknown rate limit.*sign_in\.acount"):
        settings_factory(rate_limits={"sign_in.acount": "5 per minute"})


async def test_a_password_reset_frees_an_account_a_guesser_has_locked(shop: Any) -> None:
    email = f"locked.{uuid.uuid4().hex[:8]}@example.com"
    await shop.sign_up(email)
    for n in range(10):
        await login(shop, email, f"guess {n}")
    await assert_throttled(await login(shop, email, PASSWORD), whose="for this account",
                           longest=15 * 60)
    # The 429 points the owner to a reset link; once the new password is set, it works.
    assert (await shop.client.post("/v1/auth/password/forgot",
                                   json={"email": email})).status == 202
    notifier = shop.container.notifier()

    async def reset_link() -> str | None:
        return notifier.last_link(email, "password_reset")  # type: ignore[no-any-return]

    token = (await eventually(reset_link, what="the reset email")).split("token=", 1)[1]
    response = await shop.client.post("/v1/auth/password/reset",
                                      json={"token": token, "password": "a brand new passphrase"})
    assert response.status == 204, await response.text()
    assert (await login(shop, email, "a brand new passphrase")).status == 200
