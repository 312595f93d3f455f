"""How a client is registered at an OpenID Connect provider: token endpoint authentication,
the signing algorithms we accept, and the presets of the providers we know."""

from __future__ import annotations

from typing import Literal, TypedDict

TokenAuth = Literal["client_secret_post", "client_secret_basic"]
# How the client authenticates at the token endpoint (OpenID Connect Core §9).
SECRET_IN_FORM: TokenAuth = "client_secret_post"  # noqa: S105 - a method's name, not a secret
SECRET_IN_HEADER: TokenAuth = "client_secret_basic"  # noqa: S105 - a method's name

# Only public-key signatures: an HS* token would be verified with a secret, and using a
# provider's public key as that secret lets anyone forge tokens; "none" is no signature.
ASYMMETRIC_ALGORITHMS = frozenset({
    "RS256", "RS384", "RS512", "PS256", "PS384", "PS512",
    "ES256", "ES384", "ES512", "EdDSA", "Ed25519",
})
# OpenID Connect Discovery: RS256 when a provider does not list its algorithms; and RS256 is
# what a client registered without `id_token_signed_response_alg` receives (Registration §2).
DEFAULT_ALGORITHMS = ("RS256",)
DEFAULT_SIGNING_ALGORITHM = "RS256"


class OidcPreset(TypedDict):
    name: str
    issuer: str
    scopes: str
    response_mode: str
    token_auth: TokenAuth
    login_prompt: str


# Scopes must match what the provider's console has the app consent to: Kakao names its
# consent items itself (account_email, profile_nickname) and refuses scopes it does not know.
# `login_prompt` is the `prompt` that makes the person sign in again before a link: Google
# refuses prompt=login (it knows none, consent and select_account), so there the person at
# least picks the account; the link is confirmed on our side either way.
PRESETS: dict[str, OidcPreset] = {
    "google": OidcPreset(name="google", issuer="https://accounts.google.com",
                         scopes="openid email profile", response_mode="query",
                         token_auth=SECRET_IN_FORM, login_prompt="select_account"),
    "kakao": OidcPreset(name="kakao", issuer="https://kauth.kakao.com",
                        scopes="openid account_email", response_mode="query",
                        token_auth=SECRET_IN_FORM, login_prompt="login"),
    "apple": OidcPreset(name="apple", issuer="https://appleid.apple.com",
                        scopes="openid email name", response_mode="form_post",
                        token_auth=SECRET_IN_FORM, login_prompt="login"),
}


def preset(name: str) -> OidcPreset:
    """Constructor defaults for a known provider: `OidcProvider(http, clock, **preset("google"),
    client_id=..., client_secret=...)`."""
    try:
        return PRESETS[name].copy()
    except KeyError:
        raise ValueError(
            f"no OpenID Connect preset named {name!r}; known: {', '.join(sorted(PRESETS))}"
        ) from None
