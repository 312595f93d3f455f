"""The OpenID Connect adapter refuses every ID token or code it should: each refusal a
SignInRefused with its stable reason."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime
from typing import Any

import pytest
from authlib.common.security import generate_token  # type: ignore[import-untyped]
from joserfc.jwk import ECKey

from adapters.http import OutboundHttp
from adapters.identity.oidc import FAULT_RECHECK_SECONDS, OidcProvider
from application.ports import CallbackParams
from domain.errors import ProviderUnavailable
from tests.unit.identity_providers.fake_openid import (
    CLIENT_ID,
    CLIENT_SECRET,
    EC_KEY,
    IMPOSTOR_KEY,
    NOW,
    NOW_TS,
    PS_KEY,
    REDIRECT,
    ROTATED_KEY,
    SIGNING_KEY,
    START,
    FakeOpenIdProvider,
    FixedClock,
    b64url,
    clocked_provider,
    provider_for,
    refused,
    sign_in,
    unavailable,
)

# --- refusals -----------------------------------------------------------------------------


async def test_a_callback_from_another_issuer_is_refused_before_the_code_is_sent(
    provider: OidcProvider, op: FakeOpenIdProvider
) -> None:
    error = await refused(sign_in(provider, op, iss="https://evil.example"))
    assert error.reason == "issuer_mismatch"
    assert op.token_requests == []  # the code never reached the token endpoint


async def test_a_missing_iss_is_refused_when_the_provider_advertises_it(
    provider: OidcProvider, op: FakeOpenIdProvider
) -> None:
    op.discovery_overrides["authorization_response_iss_parameter_supported"] = True
    assert (await refused(sign_in(provider, op))).reason == "issuer_mismatch"
    assert (await sign_in(provider, op, iss=op.issuer)).subject == "user-1"


async def test_a_missing_iss_is_refused_when_configured_to_require_it(
    http: OutboundHttp, op: FakeOpenIdProvider
) -> None:
    required = provider_for(http, op, require_iss_parameter=True)
    assert (await refused(sign_in(required, op))).reason == "issuer_mismatch"
    assert (await sign_in(provider_for(http, op), op)).subject == "user-1"


@pytest.mark.parametrize(("claims", "dropped", "reason"), [
    ({"iss": "https://evil.example"}, set(), "issuer_mismatch"),
    ({"aud": "another-app"}, set(), "wrong_audience"),
    ({"aud": ["another-app", "third-app"]}, set(), "wrong_audience"),
    ({"aud": [CLIENT_ID, "another-app"]}, set(), "wrong_audience"),  # no azp
    ({"aud": [CLIENT_ID, "another-app"], "azp": "another-app"}, set(), "wrong_audience"),
    ({"exp": NOW_TS - 61, "iat": NOW_TS - 700}, set(), "token_expired"),
    ({"iat": NOW_TS + 300}, set(), "token_not_yet_valid"),
    ({"nbf": NOW_TS + 300}, set(), "token_not_yet_valid"),
    ({"nonce": "nonce-of-another-sign-in"}, set(), "nonce_mismatch"),
    ({}, {"nonce"}, "nonce_mismatch"),
    ({}, {"sub"}, "invalid_token"),
    ({"sub": ""}, set(), "invalid_token"),
    ({"exp": "tomorrow"}, set(), "invalid_token"),
])
async def test_a_token_failing_a_claim_check_is_refused(
    provider: OidcProvider, op: FakeOpenIdProvider, claims: dict[str, Any],
    dropped: set[str], reason: str,
) -> None:
    op.claims.update(claims)
    op.dropped |= dropped
    assert (await refused(sign_in(provider, op))).reason == reason


async def test_the_clock_is_the_injected_one_not_the_system_time(
    http: OutboundHttp, op: FakeOpenIdProvider
) -> None:
    today = datetime.now(UTC)
    op.claims.update(iat=int(today.timestamp()), exp=int(today.timestamp()) + 600)
    provider = OidcProvider(http, FixedClock(), name="fakeop", issuer=op.issuer,
                            client_id=CLIENT_ID, client_secret=CLIENT_SECRET)
    assert (await refused(sign_in(provider, op))).reason == "token_expired"


async def test_a_signature_by_another_key_with_the_same_kid_is_refused(
    provider: OidcProvider, op: FakeOpenIdProvider
) -> None:
    op.signing_key = IMPOSTOR_KEY
    error = await refused(sign_in(provider, op))
    assert error.reason == "invalid_token" and "signature" in error.detail


async def test_an_unsigned_token_is_refused(
    provider: OidcProvider, op: FakeOpenIdProvider
) -> None:
    op.raw_id_token = op.unsigned_token({"alg": "none", "kid": "key-1"}, {
        "iss": op.issuer, "sub": "user-1", "aud": CLIENT_ID, "iat": NOW_TS,
        "exp": NOW_TS + 600, "nonce": "nonce-1"}) + "."
    assert (await refused(sign_in(provider, op))).reason == "invalid_token"


async def test_an_hs256_token_keyed_with_the_public_key_is_refused(
    provider: OidcProvider, op: FakeOpenIdProvider
) -> None:
    op.discovery_overrides["id_token_signing_alg_values_supported"] = ["RS256", "HS256"]
    signing_input = op.unsigned_token({"alg": "HS256", "kid": "key-1"}, {
        "iss": op.issuer, "sub": "user-1", "aud": CLIENT_ID, "iat": NOW_TS,
        "exp": NOW_TS + 600, "nonce": "nonce-1"})
    public_pem = SIGNING_KEY.as_pem(private=False)
    mac = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()
    op.raw_id_token = f"{signing_input}.{b64url(mac)}"
    assert (await refused(sign_in(provider, op))).reason == "invalid_token"


async def test_only_the_algorithm_the_client_is_registered_for_is_accepted(
    http: OutboundHttp, op: FakeOpenIdProvider
) -> None:
    """The provider lists several algorithms; the client is registered for one of them, and
    a token signed with another (even one the provider lists) is refused."""
    op.discovery_overrides["id_token_signing_alg_values_supported"] = [
        "RS256", "PS256", "ES256"]
    op.published = [SIGNING_KEY, PS_KEY, EC_KEY]
    es256 = provider_for(http, op, id_token_signed_response_alg="ES256")
    op.signing_key, op.header = PS_KEY, {"alg": "PS256", "kid": "ps-1"}
    error = await refused(sign_in(es256, op))
    assert error.reason == "invalid_token"
    assert "'PS256'" in error.detail and "ES256" in error.detail
    # Nor does a client left at the default (RS256) take the PS256 token.
    assert (await refused(sign_in(provider_for(http, op), op))).reason == "invalid_token"
    op.signing_key, op.header = EC_KEY, {"alg": "ES256", "kid": "ec-1"}
    assert (await sign_in(es256, op)).subject == "user-1"


def test_only_a_public_key_algorithm_can_be_registered(
    http: OutboundHttp, op: FakeOpenIdProvider
) -> None:
    for algorithm in ("HS256", "none", "es256"):
        with pytest.raises(ValueError, match="id_token_signed_response_alg"):
            provider_for(http, op, id_token_signed_response_alg=algorithm)


async def test_a_client_registered_for_an_algorithm_the_provider_lacks_is_unavailable(
    http: OutboundHttp, op: FakeOpenIdProvider
) -> None:
    op.discovery_overrides["id_token_signing_alg_values_supported"] = ["RS256"]
    provider = provider_for(http, op, id_token_signed_response_alg="ES256")
    assert not await provider.available()
    fault = provider.fault()
    assert fault is not None and "ES256" in fault and "RS256" in fault
    with pytest.raises(ProviderUnavailable):
        await provider.authorization_url(START)


async def test_a_malformed_token_is_refused(
    provider: OidcProvider, op: FakeOpenIdProvider
) -> None:
    op.raw_id_token = "not.a-token"
    assert (await refused(sign_in(provider, op))).reason == "invalid_token"


async def test_a_replayed_code_is_refused_as_invalid_grant(
    provider: OidcProvider, op: FakeOpenIdProvider
) -> None:
    verifier = generate_token(64)
    code = op.issue_code(nonce="nonce-1", verifier=verifier)
    callback = CallbackParams(code)
    await provider.exchange_code(callback, code_verifier=verifier, nonce="nonce-1",
                                 redirect_uri=REDIRECT)
    error = await refused(provider.exchange_code(
        callback, code_verifier=verifier, nonce="nonce-1", redirect_uri=REDIRECT))
    assert error.reason == "invalid_grant"


async def test_a_wrong_code_verifier_is_refused_as_invalid_grant(
    provider: OidcProvider, op: FakeOpenIdProvider
) -> None:
    code = op.issue_code(nonce="nonce-1", verifier=generate_token(64))
    error = await refused(provider.exchange_code(
        CallbackParams(code), code_verifier=generate_token(64), nonce="nonce-1",
        redirect_uri=REDIRECT))
    assert error.reason == "invalid_grant"


async def test_a_refused_client_is_not_called_invalid_grant(
    http: OutboundHttp, op: FakeOpenIdProvider
) -> None:
    provider = OidcProvider(http, FixedClock(), name="fakeop", issuer=op.issuer,
                            client_id=CLIENT_ID, client_secret="a stale secret")
    assert (await refused(sign_in(provider, op))).reason == "token_request_refused"


async def test_an_unknown_kid_fetches_the_keys_again_once_after_a_rotation(
    provider: OidcProvider, op: FakeOpenIdProvider
) -> None:
    await sign_in(provider, op)
    assert op.jwks_fetches == 1
    op.published = [SIGNING_KEY, ROTATED_KEY]
    op.signing_key, op.header = ROTATED_KEY, {"alg": "RS256", "kid": "key-2"}
    assert (await sign_in(provider, op)).subject == "user-1"
    assert op.jwks_fetches == 2
    assert (await sign_in(provider, op)).subject == "user-1"
    assert op.jwks_fetches == 2  # the new key set is cached


async def test_a_kid_still_unknown_after_one_fetch_is_refused(
    provider: OidcProvider, op: FakeOpenIdProvider
) -> None:
    await sign_in(provider, op)
    op.header = {"alg": "RS256", "kid": "ghost"}
    assert (await refused(sign_in(provider, op))).reason == "unknown_key"
    assert op.jwks_fetches == 2  # exactly one fetch more


async def test_a_token_naming_no_key_is_checked_with_the_only_key(
    provider: OidcProvider, op: FakeOpenIdProvider
) -> None:
    op.header = {"alg": "RS256"}
    assert (await sign_in(provider, op)).subject == "user-1"


async def test_a_token_naming_no_key_among_several_is_refused(
    provider: OidcProvider, op: FakeOpenIdProvider
) -> None:
    op.header = {"alg": "RS256"}
    op.published = [SIGNING_KEY, ROTATED_KEY]
    assert (await refused(sign_in(provider, op))).reason == "unknown_key"


async def test_a_kid_naming_a_key_of_another_type_is_refused(
    provider: OidcProvider, op: FakeOpenIdProvider
) -> None:
    op.published = [ECKey.generate_key("P-256", parameters={"kid": "key-1"})]
    assert (await refused(sign_in(provider, op))).reason == "invalid_token"


async def test_a_token_answer_without_an_id_token_is_refused(
    provider: OidcProvider, op: FakeOpenIdProvider
) -> None:
    op.send_id_token = False
    assert (await refused(sign_in(provider, op))).reason == "invalid_token"


async def test_a_discovery_document_of_another_issuer_makes_the_provider_unavailable(
    provider: OidcProvider, op: FakeOpenIdProvider
) -> None:
    op.discovery_overrides["issuer"] = "https://evil.example"
    with pytest.raises(ProviderUnavailable):
        await provider.authorization_url(START)
    await unavailable(sign_in(provider, op))
    assert op.token_requests == []  # no code goes to a provider we could not identify
    assert "'https://evil.example'" in (provider.fault() or "")


async def test_an_issuer_differing_by_a_trailing_slash_is_shown_unavailable_with_the_reason(
    http: OutboundHttp, op: FakeOpenIdProvider
) -> None:
    """The provider names itself without the slash: no sign-in could pass the exact issuer
    check, so the provider is shown unavailable, with what to change, before anyone tries."""
    provider, clock = clocked_provider(http, op, issuer=f"{op.issuer}/")
    assert await provider.available() is False
    fault = provider.fault()
    assert fault is not None and "trailing slash" in fault
    assert f"set the issuer to exactly {op.issuer!r}" in fault
    with pytest.raises(ProviderUnavailable) as caught:
        await provider.authorization_url(START)
    assert caught.value.detail == fault
    # Asked again only after a while; a provider that fixed its side is then available.
    fetches = op.discovery_fetches
    assert await provider.available() is False and op.discovery_fetches == fetches
    op.discovery_overrides["issuer"] = f"{op.issuer}/"
    clock.current = NOW.replace(second=NOW.second + FAULT_RECHECK_SECONDS % 60,
                                minute=NOW.minute + FAULT_RECHECK_SECONDS // 60)
    assert await provider.available() is True and provider.fault() is None
