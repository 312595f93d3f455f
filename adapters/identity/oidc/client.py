"""What every part of the OpenID Connect adapter shares: its configuration, what it has
cached from the provider, and how it reads answers and refuses a sign-in."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NoReturn

from joserfc.jwk import KeySet

from adapters.http import HttpResponse, OutboundHttp
from adapters.identity.oidc.presets import (
    ASYMMETRIC_ALGORITHMS,
    DEFAULT_SIGNING_ALGORITHM,
    SECRET_IN_FORM,
    SECRET_IN_HEADER,
    TokenAuth,
)
from application.ports import Clock
from domain.errors import ProviderUnavailable, SignInRefused


@dataclass(frozen=True)
class _Discovery:
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    iss_parameter_supported: bool  # RFC 9207: its responses always carry `iss`
    fetched_at: float


@dataclass(frozen=True)
class _Fault:
    """What the discovery document showed that makes every sign-in fail until someone fixes
    the configuration (ours or the provider's)."""

    reason: str
    found_at: float


@dataclass(frozen=True)
class _Keys:
    uri: str
    keys: KeySet
    fetched_at: float


class OidcClient:
    """Configuration and cached state of one provider's client; each part is a subclass."""

    def __init__(
        self,
        http: OutboundHttp,
        clock: Clock,
        *,
        name: str,
        issuer: str,
        client_id: str,
        client_secret: str = "",
        scopes: str = "openid email profile",
        response_mode: str = "query",
        token_auth: TokenAuth = SECRET_IN_FORM,
        client_secret_factory: Callable[[], str] | None = None,
        require_iss_parameter: bool | None = None,
        id_token_signed_response_alg: str = DEFAULT_SIGNING_ALGORITHM,
        login_prompt: str = "login",
        leeway_seconds: int = 60,
        discovery_ttl_seconds: int = 3600,
        liveness_seconds: float = 0,
        liveness_timeout_seconds: float = 2.0,
    ) -> None:
        if response_mode not in ("query", "form_post"):
            raise ValueError(f"response_mode must be query or form_post, not {response_mode!r}")
        if token_auth not in (SECRET_IN_FORM, SECRET_IN_HEADER):
            raise ValueError(f"token_auth must be client_secret_post or client_secret_basic, "
                             f"not {token_auth!r}")
        if not issuer or not client_id:
            raise ValueError("an OpenID Connect provider needs an issuer and a client id")
        if "openid" not in scopes.split():
            raise ValueError("scopes must include openid, or no ID token comes back")
        if id_token_signed_response_alg not in ASYMMETRIC_ALGORITHMS:
            raise ValueError(
                f"id_token_signed_response_alg must be a public-key algorithm "
                f"({', '.join(sorted(ASYMMETRIC_ALGORITHMS))}), not "
                f"{id_token_signed_response_alg!r}")
        if login_prompt not in ("login", "select_account", "consent"):
            raise ValueError(f"login_prompt must be login, select_account or consent, not "
                             f"{login_prompt!r}")
        self.name = name
        self.response_mode = response_mode
        self._http, self._clock = http, clock
        # Compared exactly (OpenID Connect Discovery §4.3, RFC 9207): no trailing-slash fixes.
        self._issuer = issuer
        self._client_id, self._client_secret = client_id, client_secret
        self._secret_factory = client_secret_factory
        self._scopes, self._token_auth = scopes, token_auth
        # True demands `iss` on every callback; None or False follow the discovery document,
        # because once a provider advertises the parameter RFC 9207 §2.4 says we MUST check it.
        self._require_iss = require_iss_parameter is True
        # The one algorithm this client is registered for (OpenID Connect Registration §2):
        # a token signed otherwise is refused, whatever else the provider's discovery lists.
        self._algorithm = id_token_signed_response_alg
        self._login_prompt = login_prompt
        self._leeway = leeway_seconds
        self._ttl = discovery_ttl_seconds
        # Before sending a customer there, the discovery document is re-read when older than
        # this (by default at every start), in one quick try: a provider that went down is
        # found out at once, and its breaker counts the failure, so once the circuit opens
        # the next customers are told without waiting at all. Concurrent starts share one
        # request.
        self._liveness = min(liveness_seconds, discovery_ttl_seconds)
        self._liveness_timeout = liveness_timeout_seconds
        self._subject = f"identity:{name}"
        self._discovery: _Discovery | None = None
        self._fault: _Fault | None = None
        self._fetching: asyncio.Task[_Discovery] | None = None
        self._keys: _Keys | None = None

    def _now(self) -> float:
        return self._clock.now().timestamp()

    def _json_object(self, response: HttpResponse, what: str) -> dict[str, Any]:
        if response.status != 200:
            raise ProviderUnavailable(
                f"{self.name} did not serve {what} (HTTP {response.status}); "
                "sign-in with it is unavailable for now")
        document = response.json_object()
        if document is None:
            raise ProviderUnavailable(f"{self.name} served {what} in an unreadable form")
        return document

    def _refuse(self, reason: str, detail: str) -> NoReturn:
        raise SignInRefused(detail, reason=reason)
