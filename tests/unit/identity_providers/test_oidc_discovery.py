"""The OpenID Connect adapter's good path, and how it finds out whether its provider answers:
discovery and keys cached while fresh, a provider gone down found out before a customer is
sent there, and an unreachable provider a ProviderUnavailable, never any other exception.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from authlib.common.security import generate_token  # type: ignore[import-untyped]
from authlib.oauth2.rfc7636 import create_s256_code_challenge  # type: ignore[import-untyped]

from adapters.http import OutboundHttp
from adapters.identity.oidc import OidcProvider, preset
from application.ports import AuthorizationRequest, CallbackParams, VerifiedIdentity
from domain.errors import ProviderUnavailable
from domain.redaction import redact
from tests.helpers import RecordingLedger
from tests.unit.identity_providers.fake_openid import (
    CLIENT_ID,
    CLIENT_SECRET,
    NOW,
    NOW_TS,
    REDIRECT,
    START,
    FakeOpenIdProvider,
    FixedClock,
    clocked_provider,
    outbound,
    provider_for,
    sign_in,
    unavailable,
)

# --- the good path ------------------------------------------------------------------------


async def test_a_good_sign_in_gives_the_verified_identity(
    provider: OidcProvider, op: FakeOpenIdProvider
) -> None:
    identity = await sign_in(provider, op, iss=op.issuer)
    assert identity == VerifiedIdentity("fakeop", "user-1", "ada@example.com", True)
    sent = op.token_requests[-1]
    assert sent["grant_type"] == "authorization_code" and sent["redirect_uri"] == REDIRECT
    assert sent["client_id"] == CLIENT_ID and sent["client_secret"] == CLIENT_SECRET
    assert await provider.available()


async def test_discovery_and_keys_are_fetched_once_while_fresh(
    provider: OidcProvider, op: FakeOpenIdProvider
) -> None:
    await provider.authorization_url(START)
    await sign_in(provider, op)
    await sign_in(provider, op)
    assert (op.discovery_fetches, op.jwks_fetches) == (1, 1)


async def test_discovery_is_fetched_again_once_its_ttl_has_passed(
    http: OutboundHttp, op: FakeOpenIdProvider
) -> None:
    provider, clock = clocked_provider(http, op, discovery_ttl_seconds=60)
    await provider.authorization_url(START)
    clock.current = NOW.replace(minute=2)
    await provider.authorization_url(START)
    assert op.discovery_fetches == 2


async def test_a_provider_gone_down_is_found_out_before_a_customer_is_sent_there(
    http: OutboundHttp, op: FakeOpenIdProvider
) -> None:
    provider, clock = clocked_provider(http, op, liveness_seconds=30)
    await provider.authorization_url(START)
    clock.current = NOW.replace(second=NOW.second + 10)
    await provider.authorization_url(START)  # still fresh: no request
    assert op.discovery_fetches == 1
    op.down = True
    clock.current = NOW.replace(minute=NOW.minute + 1)
    with pytest.raises(ProviderUnavailable):
        await provider.authorization_url(START)


async def test_a_provider_gone_down_is_found_out_at_the_very_next_start(
    provider: OidcProvider, op: FakeOpenIdProvider
) -> None:
    """By default the provider is asked at every start, so the customer right after it went
    down is not sent to a dead page (nor anyone for the next half minute)."""
    await provider.authorization_url(START)
    op.down = True  # the same instant: no clock has moved
    with pytest.raises(ProviderUnavailable):
        await provider.authorization_url(START)
    assert not await provider.available()
    op.down = False
    assert await provider.authorization_url(START)


async def test_a_hung_provider_is_given_up_on_within_the_liveness_timeout_without_retries(
    ledger: RecordingLedger, op: FakeOpenIdProvider
) -> None:
    async with outbound(ledger, timeout_seconds=30, retries=3) as patient:
        provider = provider_for(patient, op, liveness_timeout_seconds=0.3)
        op.discovery_delay = 5
        began = time.monotonic()
        with pytest.raises(ProviderUnavailable):
            await provider.authorization_url(START)
        assert time.monotonic() - began < 2
        assert op.discovery_fetches == 1  # one quick try: the customer is waiting


async def test_once_the_breaker_opens_no_one_waits_for_the_provider(
    ledger: RecordingLedger, op: FakeOpenIdProvider
) -> None:
    async with outbound(ledger, breaker_threshold=1) as touchy:
        provider = provider_for(touchy, op)
        op.down = True
        with pytest.raises(ProviderUnavailable):
            await provider.authorization_url(START)
        fetches = op.discovery_fetches
        assert not await provider.available()
        assert op.discovery_fetches == fetches  # the open circuit answers, not the provider


async def test_starts_at_the_same_moment_share_one_liveness_check(
    provider: OidcProvider, op: FakeOpenIdProvider
) -> None:
    op.discovery_delay = 0.2
    urls = await asyncio.gather(*[provider.authorization_url(START) for _ in range(5)])
    assert len(urls) == 5 and op.discovery_fetches == 1


async def test_a_link_asks_the_provider_to_make_the_person_sign_in_again(
    http: OutboundHttp, op: FakeOpenIdProvider
) -> None:
    link = AuthorizationRequest("s", "n", "c", REDIRECT, prompt="login")
    query = parse_qs(urlsplit(await provider_for(http, op).authorization_url(link)).query)
    assert query["prompt"] == ["login"]
    # Google refuses prompt=login: there the person at least chooses the account.
    google = OidcProvider(http, FixedClock(), **{**preset("google"), "issuer": op.issuer},
                          client_id=CLIENT_ID)
    op.discovery_overrides["issuer"] = op.issuer
    query = parse_qs(urlsplit(await google.authorization_url(link)).query)
    assert query["prompt"] == ["select_account"]
    with pytest.raises(ValueError, match="login_prompt"):
        provider_for(http, op, login_prompt="none")


async def test_client_secret_basic_sends_the_secret_in_the_header_only(
    http: OutboundHttp, op: FakeOpenIdProvider
) -> None:
    provider = provider_for(http, op, token_auth="client_secret_basic")
    assert (await sign_in(provider, op)).subject == "user-1"
    sent = op.token_requests[-1]
    assert sent["authorization"].startswith("Basic ") and "client_secret" not in sent


async def test_the_authorization_url_carries_pkce_state_nonce_and_hint(
    provider: OidcProvider, op: FakeOpenIdProvider
) -> None:
    verifier = generate_token(64)
    url = await provider.authorization_url(AuthorizationRequest(
        state="state-1", nonce="nonce-1", code_challenge=create_s256_code_challenge(verifier),
        redirect_uri=REDIRECT, login_hint="ada@example.com"))
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == f"{op.issuer}/authorize"
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    assert query == {
        "response_type": "code", "client_id": CLIENT_ID, "redirect_uri": REDIRECT,
        "scope": "openid email profile", "state": "state-1", "nonce": "nonce-1",
        "code_challenge": create_s256_code_challenge(verifier),
        "code_challenge_method": "S256", "login_hint": "ada@example.com",
    }


async def test_form_post_is_asked_for_in_the_authorization_url(
    http: OutboundHttp, op: FakeOpenIdProvider
) -> None:
    provider = provider_for(http, op, response_mode="form_post")
    url = await provider.authorization_url(START)
    query = parse_qs(urlsplit(url).query)
    assert query["response_mode"] == ["form_post"] and "login_hint" not in query
    assert provider.response_mode == "form_post"


@pytest.mark.parametrize(("asserted", "verified"), [
    (True, True), ("true", True), (False, False), ("false", False), ("True", False),
    (1, False), (None, False),
])
async def test_email_verified_only_when_the_provider_asserts_it(
    provider: OidcProvider, op: FakeOpenIdProvider, asserted: Any, verified: bool
) -> None:
    if asserted is None:
        op.dropped.add("email_verified")
    else:
        op.claims["email_verified"] = asserted
    assert (await sign_in(provider, op)).email_verified is verified


async def test_a_token_within_the_leeway_is_accepted(
    provider: OidcProvider, op: FakeOpenIdProvider
) -> None:
    op.claims.update(exp=NOW_TS - 30, iat=NOW_TS - 630)
    assert (await sign_in(provider, op)).subject == "user-1"


async def test_several_audiences_are_accepted_when_azp_names_us(
    provider: OidcProvider, op: FakeOpenIdProvider
) -> None:
    op.claims.update(aud=[CLIENT_ID, "another-app"], azp=CLIENT_ID)
    assert (await sign_in(provider, op)).subject == "user-1"


# --- the provider down --------------------------------------------------------------------


async def test_a_key_set_endpoint_down_is_provider_unavailable(
    provider: OidcProvider, op: FakeOpenIdProvider
) -> None:
    op.jwks_status = 503
    await unavailable(sign_in(provider, op))


async def test_an_unreachable_key_set_is_provider_unavailable(
    provider: OidcProvider, op: FakeOpenIdProvider
) -> None:
    op.discovery_overrides["jwks_uri"] = "http://127.0.0.1:9/jwks"  # the discard port
    await unavailable(sign_in(provider, op))


async def test_a_token_endpoint_answering_503_is_provider_unavailable(
    provider: OidcProvider, op: FakeOpenIdProvider
) -> None:
    op.token_status = 503
    await unavailable(sign_in(provider, op))
    assert len(op.token_requests) == 1  # a code redeems once: never retried


async def test_a_discovery_document_without_an_endpoint_is_a_fault_the_provider_must_fix(
    provider: OidcProvider, op: FakeOpenIdProvider
) -> None:
    op.discovery_overrides["token_endpoint"] = None
    assert not await provider.available()
    assert "token_endpoint" in (provider.fault() or "")


async def test_a_missing_discovery_document_is_provider_unavailable(
    http: OutboundHttp, op: FakeOpenIdProvider
) -> None:
    provider = OidcProvider(http, FixedClock(), name="fakeop", issuer=f"{op.issuer}/nowhere",
                            client_id=CLIENT_ID)
    with pytest.raises(ProviderUnavailable):
        await provider.authorization_url(START)


# --- what the evidence keeps ----------------------------------------------------------------


def _stored(ledger: RecordingLedger) -> str:
    return json.dumps([redact(draft.payload) for draft in ledger.drafts])


async def test_the_evidence_keeps_no_token_or_secret_in_clear(
    provider: OidcProvider, op: FakeOpenIdProvider, ledger: RecordingLedger
) -> None:
    await sign_in(provider, op)
    assert {d.subject for d in ledger.drafts} == {"identity:fakeop"}
    stored = _stored(ledger)
    assert op.issued and CLIENT_SECRET not in stored
    assert not [token for token in op.issued if token in stored]
    # No JWT: neither the ID token nor its header (a JSON object's base64url, then a dot; a
    # public key's modulus may hold "eyJ" by chance, never followed by a dot).
    assert not re.search(r"eyJ[\w-]+\.", stored)


async def test_the_evidence_keeps_no_code_or_verifier_in_clear(
    provider: OidcProvider, op: FakeOpenIdProvider, ledger: RecordingLedger
) -> None:
    verifier = generate_token(64)
    code = op.issue_code(nonce="nonce-1", verifier=verifier)
    await provider.exchange_code(CallbackParams(code), code_verifier=verifier,
                                 nonce="nonce-1", redirect_uri=REDIRECT)
    stored = _stored(ledger)
    assert code not in stored and verifier not in stored
