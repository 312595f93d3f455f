"""The sandbox identity provider checks what a real OpenID provider's token endpoint checks,
by the injected clock; so does the sandbox identity verification."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from joserfc.jws import extract_compact

from adapters.crypto import b64
from adapters.identity.real_name_sandbox import SandboxRealNameVerifier
from adapters.identity.sandbox import SandboxIdentityProvider
from application.ports import AuthorizationRequest, CallbackParams
from domain.errors import SignInRefused
from domain.identity import pkce_challenge as s256
from tests.fakes import START, FakeClock

VERIFIER = "v" * 64
BASE = "http://127.0.0.1:8080"
REDIRECT = f"{BASE}/v1/auth/sandbox/callback"


def _code(idp: SandboxIdentityProvider, **overrides: str) -> str:
    values = {"subject": "alice", "nonce": "n-1", "code_challenge": s256(VERIFIER),
              "redirect_uri": REDIRECT}
    values.update(overrides)
    return idp.issue_code(**values)


async def _exchange(idp: SandboxIdentityProvider, code: str, **overrides: Any) -> Any:
    values: dict[str, Any] = {"code_verifier": VERIFIER, "nonce": "n-1",
                              "redirect_uri": REDIRECT}
    iss = overrides.pop("iss", None)
    values.update(overrides)
    return await idp.exchange_code(CallbackParams(code, iss), **values)


async def test_the_authorization_url_carries_pkce_state_nonce_and_hint() -> None:
    idp = SandboxIdentityProvider("key", BASE, FakeClock())
    url = await idp.authorization_url(AuthorizationRequest(
        state="s-1", nonce="n-1", code_challenge=s256(VERIFIER), redirect_uri=REDIRECT,
        login_hint="alice"))
    query = parse_qs(urlsplit(url).query)
    assert urlsplit(url).path == "/sandbox/identity/authorize"
    assert query["state"] == ["s-1"] and query["nonce"] == ["n-1"]
    assert query["code_challenge_method"] == ["S256"] and query["login_hint"] == ["alice"]
    assert idp.response_mode == "query" and await idp.available()


async def test_a_valid_code_gives_a_verified_identity_once() -> None:
    idp = SandboxIdentityProvider("key", BASE, FakeClock())
    code = _code(idp)
    identity = await _exchange(idp, code, iss=BASE)
    assert (identity.provider, identity.subject, identity.email_verified) == (
        "sandbox", "alice", True)
    with pytest.raises(SignInRefused) as replayed:
        await _exchange(idp, code)
    assert replayed.value.reason == "invalid_grant"


@pytest.mark.parametrize(("change", "reason"), [
    ("verifier", "invalid_grant"), ("nonce", "nonce_mismatch"), ("redirect", "invalid_grant"),
    ("signature", "invalid_grant"), ("key", "invalid_grant"), ("issuer", "issuer_mismatch"),
])
async def test_anything_that_does_not_match_is_refused(change: str, reason: str) -> None:
    idp = SandboxIdentityProvider("key", BASE, FakeClock())
    code = _code(idp)
    kwargs: dict[str, Any] = {}
    if change == "verifier":
        kwargs["code_verifier"] = "w" * 64
    elif change == "nonce":
        kwargs["nonce"] = "n-2"
    elif change == "redirect":
        kwargs["redirect_uri"] = "http://evil.example/callback"
    elif change == "signature":
        code = code[:-2] + ("AA" if not code.endswith("AA") else "BB")
    elif change == "issuer":
        kwargs["iss"] = "http://evil.example"
    else:
        idp = SandboxIdentityProvider("another key", BASE, FakeClock())
    with pytest.raises(SignInRefused) as refused:
        await _exchange(idp, code, **kwargs)
    assert refused.value.reason == reason


async def test_an_expired_code_is_refused() -> None:
    clock = FakeClock()
    idp = SandboxIdentityProvider("key", BASE, clock)
    code = _code(idp)
    clock.advance(seconds=120)  # past the code's 60 seconds, without waiting for them
    with pytest.raises(SignInRefused) as refused:
        await _exchange(idp, code)
    assert refused.value.reason == "invalid_grant"


async def test_a_code_is_good_until_the_clock_passes_its_lifetime() -> None:
    clock = FakeClock()
    idp = SandboxIdentityProvider("key", BASE, clock)
    code = _code(idp)
    clock.advance(seconds=59)
    assert (await _exchange(idp, code)).subject == "alice"


async def test_a_verification_expires_and_is_dated_by_the_injected_clock() -> None:
    clock = FakeClock()
    verifier = SandboxRealNameVerifier("key", clock)
    token = verifier.issue_token("kim")
    clock.advance(minutes=9)
    verified = await verifier.verify(token)
    assert verified.verified_at == START + timedelta(minutes=9)
    clock.advance(minutes=2)  # past the token's ten minutes
    with pytest.raises(SignInRefused) as refused:
        await verifier.verify(token)
    assert refused.value.reason == "verification_invalid"


async def test_codes_and_verification_tokens_are_standard_hs256_jwts() -> None:
    idp = SandboxIdentityProvider("key", BASE, FakeClock())
    verifier = SandboxRealNameVerifier("key", FakeClock())
    for token in (_code(idp), verifier.issue_token("kim")):
        assert extract_compact(token.encode()).protected == {"typ": "JWT", "alg": "HS256"}
    header, payload = (b64(json.dumps(part).encode()) for part in (
        {"alg": "none"}, {"person": "kim", "adult": True, "exp": START.timestamp() + 60}))
    unsigned = f"{header}.{payload}."
    with pytest.raises(SignInRefused):
        await verifier.verify(unsigned)
