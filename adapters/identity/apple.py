"""Sign in with Apple: OpenID Connect with two differences from the rest.

Its client secret is not a fixed string but an ES256 JWT signed with the team's private key.
Apple accepts one for up to six months; we mint a short-lived one for each code exchange, so
a secret copied from a log or a proxy stops working within minutes. And Apple posts the
callback as a form (response_mode=form_post) whenever the email or name scope is asked for.
"""

from __future__ import annotations

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import ECKey

from adapters.http import OutboundHttp
from adapters.identity.oidc import OidcProvider, preset
from application.ports import Clock

APPLE_ISSUER = "https://appleid.apple.com"
APPLE_AUDIENCE = "https://appleid.apple.com"  # the client secret's audience, whatever the issuer
MAX_SECRET_LIFETIME_SECONDS = 15_777_000  # Apple refuses client secrets valid for longer


def apple_client_secret(
    team_id: str,
    key_id: str,
    client_id: str,
    private_key_pem: str | bytes,
    clock: Clock,
    lifetime_seconds: int = 300,
) -> str:
    """The client secret Apple's token endpoint expects: an ES256 JWT from the team (`iss`)
    about the Services ID (`sub`), naming the key (`kid`) Apple should check it with."""
    if not 0 < lifetime_seconds <= MAX_SECRET_LIFETIME_SECONDS:
        raise ValueError(f"an Apple client secret lives 1 to {MAX_SECRET_LIFETIME_SECONDS} "
                         f"seconds, not {lifetime_seconds}")
    needed = "Sign in with Apple needs the team's P-256 private key (the .p8 file, PEM)"
    try:
        key = ECKey.import_key(private_key_pem)
    except (JoseError, ValueError) as exc:
        raise ValueError(needed) from exc
    if key.curve_name != "P-256" or not key.is_private:
        raise ValueError(needed)
    issued_at = int(clock.now().timestamp())
    claims = {"iss": team_id, "iat": issued_at, "exp": issued_at + lifetime_seconds,
              "aud": APPLE_AUDIENCE, "sub": client_id}
    return jwt.encode({"alg": "ES256", "kid": key_id}, claims, key, algorithms=["ES256"])


def apple_provider(
    http: OutboundHttp,
    clock: Clock,
    *,
    client_id: str,
    team_id: str,
    key_id: str,
    private_key_pem: str | bytes,
    issuer: str = APPLE_ISSUER,
) -> OidcProvider:
    # Sign once now: a wrong key fails at start-up rather than at a customer's first sign-in.
    apple_client_secret(team_id, key_id, client_id, private_key_pem, clock)
    defaults = preset("apple")
    return OidcProvider(
        http, clock, name=defaults["name"], issuer=issuer, client_id=client_id,
        scopes=defaults["scopes"], response_mode=defaults["response_mode"],
        token_auth=defaults["token_auth"], login_prompt=defaults["login_prompt"],
        client_secret_factory=lambda: apple_client_secret(
            team_id, key_id, client_id, private_key_pem, clock),
    )
