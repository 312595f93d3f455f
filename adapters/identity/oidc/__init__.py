"""Sign-in with any OpenID Connect provider (Google, Kakao, Apple...), found by discovery.

Authlib has no aiohttp client, so this is a thin adapter over its cores: PKCE and the ID token
claim rules come from Authlib, the JOSE work (key sets, signatures) from joserfc, and every
HTTP call goes through OutboundHttp for its timeouts, circuit breaker and evidence. Token
times are judged by the injected clock, never the system's, so a recorded exchange replays.

`provider` is the port; `tokens`, `discovery` and `client` are the parts it is built from, and
`presets` holds how a client is registered at the providers we know.
"""

from __future__ import annotations

from adapters.identity.oidc.discovery import FAULT_RECHECK_SECONDS
from adapters.identity.oidc.presets import (
    PRESETS,
    SECRET_IN_FORM,
    SECRET_IN_HEADER,
    OidcPreset,
    TokenAuth,
    preset,
)
from adapters.identity.oidc.provider import OidcProvider

__all__ = [
    "FAULT_RECHECK_SECONDS",
    "PRESETS",
    "SECRET_IN_FORM",
    "SECRET_IN_HEADER",
    "OidcPreset",
    "OidcProvider",
    "TokenAuth",
    "preset",
]
