"""The sessions a sign-in opens: refresh tokens rotate, a reused one ends them all, logout
revokes."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import Shop
from tests.e2e.oidc_sign_in import steps

pytestmark = pytest.mark.timeout(60)


async def test_refresh_tokens_rotate_and_a_reused_one_ends_the_whole_sign_in(
        shop: Shop) -> None:
    status, signed_in = await steps.sign_in_with(shop, "ada@example.com")
    assert status == 201, signed_in

    status, rotated = await steps.refresh(shop, signed_in["refresh_token"])
    assert status == 200, rotated
    assert rotated["refresh_token"] != signed_in["refresh_token"]
    assert rotated["access_token"] != signed_in["access_token"]
    assert (await steps.me(shop, rotated["access_token"]))[0] == 200

    # The old refresh token comes back: someone kept a copy.
    status, problem = await steps.refresh(shop, signed_in["refresh_token"])
    assert status == 401, problem
    assert problem["type"] == "/problems/refresh-token-reused"

    # Every session of that sign-in ended: its newest refresh token and its access tokens.
    status, problem = await steps.refresh(shop, rotated["refresh_token"])
    assert status == 401, problem
    for token in (rotated["access_token"], signed_in["access_token"]):
        status, problem = await steps.me(shop, token)
        assert status == 401, problem

    # Another sign-in is not affected.
    status, fresh = await steps.sign_in_with(shop, "ada@example.com")
    assert status == 200, fresh
    assert (await steps.me(shop, fresh["access_token"]))[0] == 200


async def test_logout_revokes_the_session(shop: Shop) -> None:
    status, signed_in = await steps.sign_in_with(shop, "ada@example.com")
    assert status == 201, signed_in
    assert (await steps.me(shop, signed_in["access_token"]))[0] == 200

    response = await shop.client.post("/v1/auth/logout",
                                      headers=steps.bearer(signed_in["access_token"]))
    assert response.status == 200, await response.text()
    assert (await response.json())["revoked_sessions"] == 1

    assert (await steps.me(shop, signed_in["access_token"]))[0] == 401
    status, problem = await steps.refresh(shop, signed_in["refresh_token"])
    assert status == 401, problem
