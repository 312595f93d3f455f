"""The providers' presets, and Apple's sign-in: form_post and a client secret signed afresh."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from joserfc import jwt
from joserfc.jwk import ECKey

from adapters.http import OutboundHttp
from adapters.identity.apple import APPLE_AUDIENCE, apple_client_secret, apple_provider
from adapters.identity.oidc import preset
from tests.unit.identity_providers.fake_openid import (
    CLIENT_ID,
    NOW_TS,
    SIGNING_KEY,
    START,
    FakeOpenIdProvider,
    FixedClock,
    sign_in,
)

# --- presets and Apple ----------------------------------------------------------------------


def test_presets_name_the_issuers() -> None:
    assert preset("google")["issuer"] == "https://accounts.google.com"
    assert preset("kakao")["issuer"] == "https://kauth.kakao.com"
    assert preset("apple")["issuer"] == "https://appleid.apple.com"
    assert preset("apple")["response_mode"] == "form_post"
    with pytest.raises(ValueError, match="known: apple, google, kakao"):
        preset("myspace")


APPLE_KEY = ECKey.generate_key("P-256", parameters={"kid": "APPLEKEY01"})
APPLE_PEM = APPLE_KEY.as_pem(private=True)


def test_the_apple_client_secret_is_an_es256_jwt_with_apples_claims() -> None:
    secret = apple_client_secret("TEAM123456", "APPLEKEY01", "com.mall.web", APPLE_PEM,
                                 FixedClock())
    public = ECKey.import_key(APPLE_KEY.as_pem(private=False))
    token = jwt.decode(secret, public, algorithms=["ES256"])
    assert token.header["alg"] == "ES256" and token.header["kid"] == "APPLEKEY01"
    assert token.claims == {"iss": "TEAM123456", "iat": NOW_TS, "exp": NOW_TS + 300,
                            "aud": APPLE_AUDIENCE, "sub": "com.mall.web"}


def test_the_apple_client_secret_needs_a_p256_private_key() -> None:
    with pytest.raises(ValueError, match="P-256"):
        apple_client_secret("T", "K", "c", ECKey.generate_key("P-384").as_pem(private=True),
                            FixedClock())
    with pytest.raises(ValueError, match="P-256"):
        apple_client_secret("T", "K", "c", APPLE_KEY.as_pem(private=False), FixedClock())
    with pytest.raises(ValueError, match="P-256"):
        apple_client_secret("T", "K", "c", SIGNING_KEY.as_pem(private=True), FixedClock())
    with pytest.raises(ValueError, match="P-256"):
        apple_client_secret("T", "K", "c", "not a key", FixedClock())


async def test_apple_uses_form_post_and_a_fresh_signed_secret(
    http: OutboundHttp, op: FakeOpenIdProvider
) -> None:
    apple = apple_provider(http, FixedClock(), client_id=CLIENT_ID, team_id="TEAM123456",
                           key_id="APPLEKEY01", private_key_pem=APPLE_PEM, issuer=op.issuer)
    assert apple.name == "apple" and apple.response_mode == "form_post"
    url = await apple.authorization_url(START)
    query = parse_qs(urlsplit(url).query)
    assert query["response_mode"] == ["form_post"] and query["scope"] == ["openid email name"]
    op.client_secret = None
    op.claims["email_verified"] = "true"  # Apple's way of saying it
    identity = await sign_in(apple, op, iss=op.issuer)
    assert identity.email_verified
    sent = op.token_requests[-1]["client_secret"]
    token = jwt.decode(sent, ECKey.import_key(APPLE_KEY.as_pem(private=False)),
                       algorithms=["ES256"])
    assert token.claims["sub"] == CLIENT_ID and token.claims["iss"] == "TEAM123456"
