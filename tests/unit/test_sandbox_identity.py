"""The sandbox identity provider checks what a real OpenID provider's token endpoint checks."""

from __future__ import annotations

import time
from urllib.parse import parse_qs, urlsplit

import pytest

from adapters.identity.sandbox import SandboxIdentityProvider, s256
from domain.errors import Unauthorized

VERIFIER = "v" * 64
REDIRECT = "http://127.0.0.1:8080/v1/auth/sandbox/callback"


def _code(idp: SandboxIdentityProvider, **overrides: str) -> str:
    values = {"subject": "alice", "nonce": "n-1", "code_challenge": s256(VERIFIER),
              "redirect_uri": REDIRECT}
    values.update(overrides)
    return idp.issue_code(**values)


def test_the_authorization_url_carries_pkce_state_and_nonce() -> None:
    idp = SandboxIdentityProvider("key", "http://127.0.0.1:8080")
    url = idp.authorization_url(state="s-1", nonce="n-1", code_challenge=s256(VERIFIER),
                                redirect_uri=REDIRECT)
    query = parse_qs(urlsplit(url).query)
    assert urlsplit(url).path == "/sandbox/identity/authorize"
    assert query["state"] == ["s-1"] and query["nonce"] == ["n-1"]
    assert query["code_challenge_method"] == ["S256"]


async def test_a_valid_code_gives_a_verified_identity_once() -> None:
    idp = SandboxIdentityProvider("key", "http://x")
    code = _code(idp)
    identity = await idp.exchange_code(code=code, code_verifier=VERIFIER, nonce="n-1",
                                       redirect_uri=REDIRECT)
    assert (identity.provider, identity.subject, identity.email_verified) == (
        "sandbox", "alice", True)
    with pytest.raises(Unauthorized):  # replayed code
        await idp.exchange_code(code=code, code_verifier=VERIFIER, nonce="n-1",
                                redirect_uri=REDIRECT)


@pytest.mark.parametrize("change", ["verifier", "nonce", "redirect", "signature", "key"])
async def test_anything_that_does_not_match_is_refused(change: str) -> None:
    idp = SandboxIdentityProvider("key", "http://x")
    code = _code(idp)
    kwargs = {"code": code, "code_verifier": VERIFIER, "nonce": "n-1",
              "redirect_uri": REDIRECT}
    if change == "verifier":
        kwargs["code_verifier"] = "w" * 64
    elif change == "nonce":
        kwargs["nonce"] = "n-2"
    elif change == "redirect":
        kwargs["redirect_uri"] = "http://evil.example/callback"
    elif change == "signature":
        kwargs["code"] = code[:-2] + ("AA" if not code.endswith("AA") else "BB")
    else:
        idp = SandboxIdentityProvider("another key", "http://x")
    with pytest.raises(Unauthorized):
        await idp.exchange_code(**kwargs)


async def test_an_expired_code_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    idp = SandboxIdentityProvider("key", "http://x")
    code = _code(idp)
    later = time.time() + 120
    monkeypatch.setattr(time, "time", lambda: later)
    with pytest.raises(Unauthorized):
        await idp.exchange_code(code=code, code_verifier=VERIFIER, nonce="n-1",
                                redirect_uri=REDIRECT)
