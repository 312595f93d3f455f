"""Forged, replayed and defective answers at our callback are refused, and store nothing."""

from __future__ import annotations

import asyncio
import secrets
from typing import Any

import pytest

from adapters.persistence.tables import Customer
from tests.e2e.conftest import Shop
from tests.e2e.oidc_sign_in import steps
from tests.e2e.oidc_sign_in.defective_provider import DefectiveProvider
from tests.oidc_provider import OidcProviderProcess

pytestmark = pytest.mark.timeout(60)


async def test_a_state_we_never_issued_is_refused(shop: Shop) -> None:
    params = await steps.at_provider(shop, "ada@example.com")
    body = await steps.refused(shop, {**params, "state": secrets.token_urlsafe(32)},
                         "state_mismatch")
    assert "not started here" in body["detail"]
    await steps.refused(shop, {"code": params["code"], "iss": params["iss"]}, "state_mismatch")

    # Our own state, but the answer names another issuer (an RFC 9207 mix-up): refused too,
    # and the state is spent.
    await steps.refused(shop, {**params, "iss": "http://127.0.0.1:1"}, "issuer_mismatch")
    await steps.refused(shop, params, "state_replayed")


async def test_a_replayed_callback_is_refused(shop: Shop) -> None:
    params = await steps.at_provider(shop, "ada@example.com")
    status, body = await steps.callback(shop, params)
    assert status == 201, body

    replay = await steps.refused(shop, params, "state_replayed")
    assert "used already" in replay["detail"]

    # The same answer delivered twice at once (a double-clicked link): one sign-in only.
    params = await steps.at_provider(shop, "grace@example.com")
    customers = await Customer.count()
    answers = await asyncio.gather(steps.callback(shop, params), steps.callback(shop, params))
    assert sorted(status for status, _ in answers) == [201, 401], answers
    [(_, refusal)] = [answer for answer in answers if answer[0] == 401]
    assert refusal["reason"] == "state_replayed"
    assert await Customer.count() == customers + 1


async def test_a_code_redeemed_once_is_refused_by_the_provider_the_second_time(
        shop: Shop) -> None:
    first = await steps.at_provider(shop, "ada@example.com")
    status, body = await steps.callback(shop, first)
    assert status == 201, body

    # A second sign-in (its own state, nonce and verifier) whose callback carries the first
    # one's code: the provider refuses to redeem it again.
    second = await steps.at_provider(shop, "ada@example.com")
    body = await steps.refused(shop, {**second, "code": first["code"]}, "invalid_grant")
    assert "already used" in body["detail"]


DEFECTS = {
    "nonce": ("nonce_mismatch", "nonce mismatch"),
    "audience": ("wrong_audience", "another application"),
    "expired": ("token_expired", "expired"),
    "signature": ("invalid_token", "forged or altered"),
    "alg_none": ("invalid_token", "'none'"),
}


@pytest.mark.parametrize("defect", list(DEFECTS))
async def test_a_defective_id_token_is_refused_and_nothing_is_stored(
        shop_factory: Any, app_port: int, op: OidcProviderProcess, fake: DefectiveProvider,
        defect: str) -> None:
    shop = await steps.oidc_shop(shop_factory, app_port, {
        "oidc": steps.oidc_settings(op.issuer), "fakeop": steps.fake_settings(fake)})
    reason, phrase = DEFECTS[defect]
    fake.defect = defect

    params = await steps.at_provider(shop, "ada@example.com", "fakeop")
    body = await steps.refused(shop, params, reason, "fakeop")

    assert phrase in body["detail"], body["detail"]
    assert "provider:oidc" in body["ways_in"]
    # The same provider with a sound token signs in: the defect alone was refused.
    fake.defect = None
    status, signed_in = await steps.sign_in_with(shop, "ada@example.com", "fakeop")
    assert status == 201, signed_in
