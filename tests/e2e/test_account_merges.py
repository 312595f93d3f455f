"""Merging accounts (and erasing one) needs a recent sign-in; two merges racing keep one
account."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from typing import Any

import pytest

from adapters.persistence import tables as t
from tests.e2e import privacy_steps as privacy
from tests.e2e.identity_steps import bearer
from tests.helpers import ORDER

pytestmark = pytest.mark.timeout(90)


async def test_erasure_and_merging_need_a_recent_sign_in(
    shop: Any, monkeypatch: pytest.MonkeyPatch,
) -> None:
    email = f"stale.{uuid.uuid4().hex[:8]}@example.com"
    await privacy.register(shop, email)
    clock = shop.container.clock()
    real_now = clock.now
    # A token still valid, but from a sign-in 11 minutes ago (lifetimes are 15 minutes):
    # tokens are issued by the injected clock.
    monkeypatch.setattr(clock, "now", lambda: real_now() - timedelta(seconds=660))
    stale = await bearer(shop, email, privacy.PASSWORD)
    monkeypatch.setattr(clock, "now", real_now)
    assert (await shop.client.get("/v1/me", headers=stale)).status == 200
    for path, body in (("/v1/me/erasure", {"confirm": email}),
                       ("/v1/me/merge", {"access_token": "x" * 20})):
        response = await shop.client.post(path, headers=stale, json=body)
        assert response.status == 401, path
        assert "recent sign-in" in (await response.json())["detail"]
    fresh = await bearer(shop, email, privacy.PASSWORD)
    response = await shop.client.post("/v1/me/erasure", headers=fresh,
                                      json={"confirm": email})
    assert response.status == 200


async def test_two_merges_racing_in_opposite_directions_keep_one_account(shop: Any) -> None:

    tag = uuid.uuid4().hex[:8]
    first, second = f"first.{tag}@example.com", f"second.{tag}@example.com"
    auth_first = await privacy.register(shop, first)
    auth_second = await privacy.register(shop, second)
    await shop.place(auth_first, ORDER)
    await shop.place(auth_second, ORDER)
    token_first = auth_first["Authorization"].split()[1]
    token_second = auth_second["Authorization"].split()[1]
    answers = await asyncio.gather(
        shop.client.post("/v1/me/merge", headers=auth_first,
                         json={"access_token": token_second}),
        shop.client.post("/v1/me/merge", headers=auth_second,
                         json={"access_token": token_first}))
    statuses = sorted(answer.status for answer in answers)
    assert statuses[0] == 200 and statuses[1] in (401, 409), statuses
    survivors = await t.Customer.select(t.Customer.id).where(
        t.Customer.email.is_in([first, second]))
    assert len(survivors) == 1
    owners = {row["customer_id"] for row in await t.Order.select(t.Order.customer_id)}
    assert owners == {survivors[0]["id"]}  # both orders kept, by the account that remains
