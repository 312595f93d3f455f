"""The test OpenID provider (oidc-provider, browser-less) behaves like a real OP.

One OP process serves the whole session (the `oidc_provider` fixture); the key rotation test
starts its own so that no other test sees a rotated key.
"""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urljoin

import aiohttp
import pytest
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from joserfc import jwt
from joserfc.jwk import KeySet

from tests.oidc_provider import (
    MALL_TEST_CLIENT_ID,
    MALL_TEST_CLIENT_SECRET,
    MALL_TEST_REDIRECT_URI,
    OidcProviderProcess,
    SignInError,
    mall_test_clients,
    require_node,
    sign_in,
    start_oidc_provider,
)


@dataclass
class AuthorizationRequest:
    url: str
    state: str
    nonce: str
    code_verifier: str


def authorization_request(op: OidcProviderProcess, **extra: str) -> AuthorizationRequest:
    """An authorization code request with PKCE S256, state and nonce, built by hand."""
    state, nonce = secrets.token_urlsafe(16), secrets.token_urlsafe(16)
    code_verifier = secrets.token_urlsafe(48)
    query = {
        "response_type": "code",
        "client_id": MALL_TEST_CLIENT_ID,
        "redirect_uri": MALL_TEST_REDIRECT_URI,
        "scope": "openid email profile",
        "state": state,
        "nonce": nonce,
        "code_challenge": create_s256_code_challenge(code_verifier),
        "code_challenge_method": "S256",
        **extra,
    }
    return AuthorizationRequest(f"{op.authorization_endpoint}?{urlencode(query)}",
                                state, nonce, code_verifier)


async def redeem(op: OidcProviderProcess, code: str, code_verifier: str, *,
                 basic: bool = False) -> tuple[int, dict[str, Any]]:
    form = {"grant_type": "authorization_code", "code": code,
            "redirect_uri": MALL_TEST_REDIRECT_URI, "code_verifier": code_verifier}
    headers = {}
    if basic:
        credentials = f"{MALL_TEST_CLIENT_ID}:{MALL_TEST_CLIENT_SECRET}".encode()
        headers["Authorization"] = f"Basic {base64.b64encode(credentials).decode()}"
    else:
        form |= {"client_id": MALL_TEST_CLIENT_ID, "client_secret": MALL_TEST_CLIENT_SECRET}
    async with aiohttp.ClientSession() as http, \
            http.post(op.token_endpoint, data=form, headers=headers) as response:
        return response.status, dict(await response.json())


async def verified_claims(op: OidcProviderProcess, id_token: str,
                          nonce: str) -> dict[str, Any]:
    """The ID token's claims, its signature checked against the OP's JWKS."""
    async with aiohttp.ClientSession() as http, http.get(op.jwks_uri) as response:
        keys = KeySet.import_key_set(await response.json())
    token = jwt.decode(id_token, keys, algorithms=["RS256"])
    jwt.JWTClaimsRegistry(
        iss={"essential": True, "value": op.issuer},
        aud={"essential": True, "value": MALL_TEST_CLIENT_ID},
        nonce={"essential": True, "value": nonce},
        sub={"essential": True},
        exp={"essential": True},
        iat={"essential": True},
    ).validate(token.claims)
    return dict(token.claims) | {"_kid": token.header["kid"]}


async def sign_in_and_redeem(op: OidcProviderProcess, login: str) -> dict[str, Any]:
    request = authorization_request(op)
    params = await sign_in(request.url, login=login)
    assert params.get("code"), params
    status, tokens = await redeem(op, params["code"], request.code_verifier)
    assert status == 200, tokens
    return await verified_claims(op, tokens["id_token"], request.nonce)


async def test_discovery_advertises_rfc9207_iss_and_s256(
        oidc_provider: OidcProviderProcess) -> None:
    async with aiohttp.ClientSession() as http, http.get(oidc_provider.discovery_url) as r:
        assert r.status == 200
        metadata = await r.json()
    assert metadata["issuer"] == oidc_provider.issuer
    assert metadata["authorization_response_iss_parameter_supported"] is True
    assert "S256" in metadata["code_challenge_methods_supported"]
    assert "plain" not in metadata["code_challenge_methods_supported"]
    assert metadata["authorization_endpoint"] == oidc_provider.authorization_endpoint
    assert metadata["token_endpoint"] == oidc_provider.token_endpoint
    assert metadata["jwks_uri"] == oidc_provider.jwks_uri
    assert "client_secret_post" in metadata["token_endpoint_auth_methods_supported"]
    assert metadata["id_token_signing_alg_values_supported"] == ["RS256"]


async def test_browserless_code_flow_yields_a_verified_id_token(
        oidc_provider: OidcProviderProcess) -> None:
    request = authorization_request(oidc_provider)

    params = await sign_in(request.url, login="ada@example.com")

    assert set(params) == {"code", "state", "iss"}
    assert params["state"] == request.state
    assert params["iss"] == oidc_provider.issuer

    status, tokens = await redeem(oidc_provider, params["code"], request.code_verifier)
    assert status == 200, tokens
    assert tokens["token_type"].lower() == "bearer"
    claims = await verified_claims(oidc_provider, tokens["id_token"], request.nonce)
    assert claims["nonce"] == request.nonce
    assert claims["aud"] == MALL_TEST_CLIENT_ID
    assert claims["sub"] == "sub-ada@example.com"
    assert claims["email"] == "ada@example.com"
    assert claims["email_verified"] is True

    # The code is single-use.
    status, replay = await redeem(oidc_provider, params["code"], request.code_verifier)
    assert status == 400
    assert replay["error"] == "invalid_grant"


async def test_wrong_code_verifier_is_refused(oidc_provider: OidcProviderProcess) -> None:
    request = authorization_request(oidc_provider)
    params = await sign_in(request.url, login="grace")
    status, body = await redeem(oidc_provider, params["code"], secrets.token_urlsafe(48))
    assert status == 400
    assert body["error"] == "invalid_grant"


async def test_pkce_is_required(oidc_provider: OidcProviderProcess) -> None:
    request = authorization_request(oidc_provider)
    url = request.url.replace("code_challenge_method=S256", "code_challenge_method=plain")
    params = await sign_in(url, login="ada")
    assert params["error"] == "invalid_request"
    assert params["iss"] == oidc_provider.issuer

    without = authorization_request(oidc_provider)
    url = "&".join(part for part in without.url.split("&")
                   if not part.startswith("code_challenge"))
    params = await sign_in(url, login="ada")
    assert params["error"] == "invalid_request"
    assert "PKCE" in params["error_description"]


async def test_client_secret_basic_is_accepted_too(oidc_provider: OidcProviderProcess) -> None:
    request = authorization_request(oidc_provider)
    params = await sign_in(request.url, login="basic")
    status, tokens = await redeem(oidc_provider, params["code"], request.code_verifier,
                                  basic=True)
    assert status == 200, tokens
    claims = await verified_claims(oidc_provider, tokens["id_token"], request.nonce)
    assert claims["email"] == "basic@example.test"


async def test_deny_login_ends_with_access_denied(oidc_provider: OidcProviderProcess) -> None:
    request = authorization_request(oidc_provider)

    params = await sign_in(request.url, login="deny")

    assert params["error"] == "access_denied"
    assert params["state"] == request.state
    assert params["iss"] == oidc_provider.issuer
    assert "code" not in params


async def test_unverified_login_has_email_verified_false(
        oidc_provider: OidcProviderProcess) -> None:
    claims = await sign_in_and_redeem(oidc_provider, "unverified-bob")
    assert claims["sub"] == "sub-unverified-bob"
    assert claims["email"] == "unverified-bob@example.test"
    assert claims["email_verified"] is False


async def test_no_login_hint_is_a_clear_400(oidc_provider: OidcProviderProcess) -> None:
    request = authorization_request(oidc_provider)
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        async with http.get(request.url, allow_redirects=False) as response:
            assert response.status == 303
            interaction = urljoin(request.url, response.headers["Location"])
        async with http.get(interaction, allow_redirects=False) as response:
            assert response.status == 400
            body = await response.json()
    assert body["error"] == "login_required"
    assert "login_hint" in body["error_description"]


async def test_sign_in_raises_when_the_op_does_not_redirect(
        oidc_provider: OidcProviderProcess) -> None:
    request = authorization_request(oidc_provider, redirect_uri="http://evil.test/cb")
    with pytest.raises(SignInError) as caught:
        await sign_in(request.url, login="ada")
    assert caught.value.status == 400
    assert "redirect_uri" in caught.value.body


async def test_a_kept_session_answers_for_the_login_hint(
        oidc_provider: OidcProviderProcess) -> None:
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        subs = []
        for login in ("alice", "alice", "bob"):
            request = authorization_request(oidc_provider)
            params = await sign_in(request.url, login=login, session=http)
            status, tokens = await redeem(oidc_provider, params["code"],
                                          request.code_verifier)
            assert status == 200, tokens
            claims = await verified_claims(oidc_provider, tokens["id_token"], request.nonce)
            subs.append(claims["sub"])
    assert subs == ["sub-alice", "sub-alice", "sub-bob"]


async def test_signing_key_rotation() -> None:
    require_node()
    with start_oidc_provider(mall_test_clients()) as op:
        before = await sign_in_and_redeem(op, "rotate")
        new_kid = await op.rotate_keys()
        after = await sign_in_and_redeem(op, "rotate")
        assert after["_kid"] == new_kid != before["_kid"]
        async with aiohttp.ClientSession() as http, http.get(op.jwks_uri) as response:
            kids = {key["kid"] for key in (await response.json())["keys"]}
        assert kids == {before["_kid"], new_kid}

        newest = await op.rotate_keys(drop_old=True)
        async with aiohttp.ClientSession() as http, http.get(op.jwks_uri) as response:
            kids = {key["kid"] for key in (await response.json())["keys"]}
        assert kids == {newest}


async def test_form_post_response_mode_returns_the_posted_fields(
        oidc_provider: OidcProviderProcess) -> None:
    request = authorization_request(oidc_provider, response_mode="form_post")
    params = await sign_in(request.url, login="poster")
    assert set(params) == {"code", "state", "iss"}
    assert params["state"] == request.state
    status, tokens = await redeem(oidc_provider, params["code"], request.code_verifier)
    assert status == 200, tokens
