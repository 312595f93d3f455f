"""Sign-in with any OpenID Connect provider (Google, Kakao, Apple...), found by discovery.

Authlib has no aiohttp client, so this is a thin adapter over its cores: PKCE and the ID token
claim rules come from Authlib, the JOSE work (key sets, signatures) from joserfc, and every
HTTP call goes through OutboundHttp for its timeouts, circuit breaker and evidence. Token
times are judged by the injected clock, never the system's, so a recorded exchange replays.
"""

from __future__ import annotations

import asyncio
import base64
import hmac
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, NoReturn, TypedDict
from urllib.parse import quote, urlencode

from authlib.oidc.core import CodeIDToken  # type: ignore[import-untyped]
from joserfc import jwt
from joserfc.errors import (
    BadSignatureError,
    ExpiredTokenError,
    InvalidClaimError,
    JoseError,
    MissingClaimError,
)
from joserfc.jwk import Key, KeySet
from joserfc.jws import extract_compact

from adapters.http import HttpResponse, OutboundHttp
from application.ports import (
    AuthorizationRequest,
    CallbackParams,
    Clock,
    VerifiedIdentity,
)
from domain.errors import ProviderUnavailable, SignInRefused

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
_KEY_TYPE_OF_ALGORITHM = {"RS": "RSA", "PS": "RSA", "ES": "EC", "Ed": "OKP"}
# A provider whose discovery named a fault (another issuer, no algorithm we registered for) is
# asked again after this long: the fault may be fixed on its side without a restart of ours.
FAULT_RECHECK_SECONDS = 60

log = logging.getLogger("mall.identity")


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


class OidcProvider:
    """An OpenID Connect provider, authorization code flow with PKCE, nonce and RFC 9207.

    Before a customer is sent there, the provider is asked whether it answers (its discovery
    document, one quick try) unless its circuit is open already; a provider whose discovery
    shows a fault (another issuer, no ID token algorithm we registered for) is reported
    unavailable with the reason instead of failing every sign-in at the callback.
    """

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

    async def authorization_url(self, request: AuthorizationRequest) -> str:
        discovery = await self._discover(max_age=self._liveness, quick=True)
        params = {
            "response_type": "code", "client_id": self._client_id,
            "redirect_uri": request.redirect_uri, "scope": self._scopes,
            "state": request.state, "nonce": request.nonce,
            "code_challenge": request.code_challenge, "code_challenge_method": "S256",
        }
        if self.response_mode != "query":
            params["response_mode"] = self.response_mode
        if request.login_hint:
            params["login_hint"] = request.login_hint
        if request.prompt == "login":
            params["prompt"] = self._login_prompt
        endpoint = discovery.authorization_endpoint
        return f"{endpoint}{'&' if '?' in endpoint else '?'}{urlencode(params)}"

    async def exchange_code(
        self, callback: CallbackParams, *, code_verifier: str, nonce: str, redirect_uri: str
    ) -> VerifiedIdentity:
        discovery = await self._discover()
        self._check_response_issuer(callback.iss, discovery)
        tokens = await self._redeem(discovery, callback.code, code_verifier, redirect_uri)
        id_token = tokens.get("id_token")
        if not isinstance(id_token, str) or not id_token:
            self._refuse("invalid_token", f"{self.name} redeemed the code but sent no ID token")
        claims = await self._verified_claims(id_token, discovery, nonce)
        email = claims.get("email")
        verified = claims.get("email_verified")
        return VerifiedIdentity(
            provider=self.name, subject=claims["sub"],
            email=email if isinstance(email, str) and email else None,
            # Apple sends the string "true"; anything else is not an assertion.
            email_verified=verified is True or verified == "true",
        )

    async def available(self) -> bool:
        if not await self._http.available(self.name):
            return False
        try:
            await self._discover(quick=True)  # no request while the document is fresh
        except ProviderUnavailable:
            return False
        return True

    def fault(self) -> str | None:
        return self._fault.reason if self._fault is not None else None

    # --- discovery and keys -------------------------------------------------------------

    def _now(self) -> float:
        return self._clock.now().timestamp()

    async def _discover(self, max_age: float | None = None, *, quick: bool = False
                        ) -> _Discovery:
        """The discovery document, from the cache while younger than `max_age` (default: its
        time to live). `quick`: one try with a short timeout, for a customer who is waiting.
        Raises ProviderUnavailable when it cannot be read or shows a fault."""
        fault = self._fault
        if fault is not None and self._now() - fault.found_at < FAULT_RECHECK_SECONDS:
            raise ProviderUnavailable(fault.reason)
        cached = self._discovery
        age_limit = self._ttl if max_age is None else max_age
        if cached is not None and self._now() - cached.fetched_at < age_limit:
            return cached
        loop = asyncio.get_running_loop()
        fetching = self._fetching
        if fetching is None or fetching.done() or fetching.get_loop() is not loop:
            fetching = loop.create_task(self._fetch_discovery(quick))
            # Retrieved here too, in case every waiter gave up before it ended.
            fetching.add_done_callback(lambda done: done.cancelled() or done.exception())
            self._fetching = fetching
        # Shielded: a customer who gives up does not cancel the answer others are awaiting.
        return await asyncio.shield(fetching)

    async def _fetch_discovery(self, quick: bool) -> _Discovery:
        url = f"{self._issuer.rstrip('/')}/.well-known/openid-configuration"
        try:
            document = self._json_object(
                await self._http.request(
                    self.name, "GET", url, subject=self._subject,
                    # A waiting customer gets one short try: a hung provider is given up on
                    # within seconds (and its breaker counts it) instead of after every retry.
                    timeout_seconds=self._liveness_timeout if quick else None,
                    idempotent=False if quick else None),
                "its discovery document")
        except ProviderUnavailable:
            self._discovery = None  # found down: nothing vouches for it until it answers
            raise
        named = document.get("issuer")
        if named != self._issuer:
            self._found_fault(self._issuer_fault(named))
        endpoints = {}
        for field in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
            value = document.get(field)
            if not isinstance(value, str) or not value:
                self._found_fault(f"the discovery document of {self.name} has no {field}, "
                                  "so no sign-in can work until the provider fixes it")
            endpoints[field] = value
        listed = document.get("id_token_signing_alg_values_supported", DEFAULT_ALGORITHMS)
        offered = [str(a)[:20] for a in listed] if isinstance(listed, list | tuple) else []
        if self._algorithm not in offered:
            self._found_fault(
                f"{self.name} is misconfigured: this shop expects ID tokens signed with "
                f"{self._algorithm}, and the provider offers only "
                f"{', '.join(offered[:10]) or 'none'}; its client registration and our "
                "id_token_signed_response_alg must name the same algorithm")
        discovery = _Discovery(
            authorization_endpoint=endpoints["authorization_endpoint"],
            token_endpoint=endpoints["token_endpoint"], jwks_uri=endpoints["jwks_uri"],
            iss_parameter_supported=(
                document.get("authorization_response_iss_parameter_supported") is True),
            fetched_at=self._now(),
        )
        self._discovery, self._fault = discovery, None
        return discovery

    def _issuer_fault(self, named: Any) -> str:
        shown = str(named)[:200]
        if isinstance(named, str) and named.rstrip("/") == self._issuer.rstrip("/"):
            return (f"{self.name} is misconfigured: its issuer is set to {self._issuer!r} "
                    f"but the provider names itself {shown!r}, which differs by a trailing "
                    f"slash; set the issuer to exactly {shown!r}")
        return (f"{self.name} is misconfigured: its issuer is set to {self._issuer!r} but the "
                f"discovery document names {shown!r}, so it is not the configured provider")

    def _found_fault(self, reason: str) -> NoReturn:
        """Every sign-in would fail the same way: say so (and why) until it is fixed."""
        if self._fault is None or self._fault.reason != reason:
            log.warning("sign-in provider %s unavailable: %s", self.name, reason)
        self._fault, self._discovery = _Fault(reason, self._now()), None
        raise ProviderUnavailable(reason)

    async def _key_set(self, discovery: _Discovery, *, refresh: bool) -> tuple[KeySet, bool]:
        """The provider's signing keys and whether they were fetched just now."""
        cached = self._keys
        if (not refresh and cached is not None and cached.uri == discovery.jwks_uri
                and self._now() - cached.fetched_at < self._ttl):
            return cached.keys, False
        document = self._json_object(
            await self._http.request(self.name, "GET", discovery.jwks_uri,
                                     subject=self._subject),
            "its signing keys")
        listed = document.get("keys")
        if not isinstance(listed, list):
            raise ProviderUnavailable(f"{self.name} published a key set without keys")
        # One unreadable key (an algorithm this library does not know) must not hide the rest.
        readable: list[Key] = []
        for entry in listed:
            try:
                readable.extend(KeySet.import_key_set({"keys": [entry]}).keys)
            except (JoseError, ValueError, TypeError, KeyError):
                continue
        keys = KeySet(readable)
        self._keys = _Keys(discovery.jwks_uri, keys, self._now())
        return keys, True

    async def _signing_key(self, discovery: _Discovery, kid: str | None, alg: str) -> Key:
        """The key the token names; on an unknown kid the key set is fetched again once, since
        the provider may have rotated its keys since we cached them."""
        keys, fresh = await self._key_set(discovery, refresh=False)
        key = self._pick(keys, kid, alg)
        if key is None and not fresh:
            keys, _ = await self._key_set(discovery, refresh=True)
            key = self._pick(keys, kid, alg)
        if key is None:
            self._refuse("unknown_key", (
                f"the ID token is signed with a key {self.name} does not publish "
                f"(kid {str(kid)[:80]!r})" if kid is not None else
                f"the ID token names no key, and {self.name} does not publish exactly one "
                f"{alg} key"))
        return key

    def _pick(self, keys: KeySet, kid: str | None, alg: str) -> Key | None:
        key_type = _KEY_TYPE_OF_ALGORITHM[alg[:2]]
        named = [k for k in keys if kid is None or k.kid == kid]
        usable = [k for k in named
                  if k.key_type == key_type and k.get("use") in (None, "sig")
                  and k.get("alg") in (None, alg)]
        if kid is None:
            return usable[0] if len(usable) == 1 else None
        if named and not usable:
            self._refuse("invalid_token", (
                f"the key {kid[:80]!r} of {self.name} cannot verify an {alg} signature"))
        return usable[0] if usable else None

    # --- the exchange -------------------------------------------------------------------

    def _check_response_issuer(self, iss: str | None, discovery: _Discovery) -> None:
        """RFC 9207: the callback says which provider answered, which defeats mix-up attacks
        where another provider's code is injected into this one's callback."""
        if iss is not None:
            if iss != self._issuer:
                self._refuse("issuer_mismatch", (
                    f"the sign-in response names the issuer {iss[:200]!r}, not "
                    f"{self._issuer!r}; it did not come from {self.name}"))
        elif self._require_iss or discovery.iss_parameter_supported:
            self._refuse("issuer_mismatch", (
                f"the sign-in response does not say which provider sent it, although "
                f"{self.name} always does"))

    async def _redeem(
        self, discovery: _Discovery, code: str, code_verifier: str, redirect_uri: str
    ) -> Mapping[str, Any]:
        form = {"grant_type": "authorization_code", "code": code,
                "redirect_uri": redirect_uri, "code_verifier": code_verifier}
        headers = {"Accept": "application/json"}
        secret = self._secret_factory() if self._secret_factory else self._client_secret
        if self._token_auth == SECRET_IN_HEADER and secret:
            # RFC 6749 §2.3.1: both parts form-encoded before joining.
            pair = f"{quote(self._client_id, safe='')}:{quote(secret, safe='')}"
            headers["Authorization"] = f"Basic {base64.b64encode(pair.encode()).decode()}"
        else:
            form["client_id"] = self._client_id
            if secret:
                form["client_secret"] = secret
        # A code redeems once: a repeated POST could only fail, so it is never retried.
        response = await self._http.request(
            self.name, "POST", discovery.token_endpoint, subject=self._subject, form=form,
            headers=headers, idempotent=False, secret_fields=("code", "code_verifier"))
        if response.status >= 500:
            raise ProviderUnavailable(
                f"{self.name} failed to redeem the sign-in code (HTTP {response.status}); "
                "start the sign-in again later")
        try:
            body = response.json()
        except ValueError:
            body = None
        error = body.get("error") if isinstance(body, dict) else None
        if response.status >= 400 or error:
            if error == "invalid_grant":
                self._refuse("invalid_grant", (
                    f"{self.name} refused the sign-in code: it was already used, has expired "
                    "or was issued for another redirect; start the sign-in again"))
            self._refuse("token_request_refused", (
                f"{self.name} refused to redeem the sign-in code "
                f"({str(error)[:80] if error else f'HTTP {response.status}'})"))
        if response.status != 200 or not isinstance(body, dict):
            raise ProviderUnavailable(
                f"{self.name} answered the code exchange with something unreadable "
                f"(HTTP {response.status}); start the sign-in again later")
        return body

    async def _verified_claims(
        self, id_token: str, discovery: _Discovery, nonce: str
    ) -> dict[str, Any]:
        try:
            header = extract_compact(id_token.encode()).headers()
        except (JoseError, ValueError, TypeError):
            self._refuse("invalid_token", f"the ID token from {self.name} is malformed")
        alg, kid = header.get("alg"), header.get("kid")
        if not isinstance(alg, str) or alg != self._algorithm:
            self._refuse("invalid_token", (
                f"the ID token from {self.name} is signed with {str(alg)[:20]!r}, but this "
                f"shop is registered there for {self._algorithm} ID tokens only"))
        if kid is not None and not isinstance(kid, str):
            self._refuse("invalid_token", f"the ID token from {self.name} has a malformed kid")
        key = await self._signing_key(discovery, kid, alg)
        try:
            token = jwt.decode(id_token, key, algorithms=[alg])
        except BadSignatureError:
            self._refuse("invalid_token", (
                f"the ID token's signature does not match {self.name}'s key: it was forged "
                "or altered"))
        except (JoseError, ValueError, TypeError):
            self._refuse("invalid_token", f"the ID token from {self.name} is malformed")
        self._check_claims(token.claims, token.header)
        self._check_nonce(token.claims.get("nonce"), nonce)
        return token.claims

    def _check_claims(self, claims: dict[str, Any], header: Mapping[str, Any]) -> None:
        """Authlib's ID token rules (iss, aud with azp, exp, iat, nbf, sub) on our clock."""
        id_token = CodeIDToken(
            claims, header,
            options={"iss": {"essential": True, "value": self._issuer},
                     "aud": {"essential": True, "value": self._client_id},
                     "sub": {"essential": True}},
            params={"client_id": self._client_id},
        )
        try:
            id_token.validate(now=int(self._now()), leeway=self._leeway)
        except ExpiredTokenError:
            self._refuse("token_expired", f"the ID token from {self.name} has expired")
        except MissingClaimError as exc:
            if exc.claim == "azp":
                self._refuse("wrong_audience", (
                    f"the ID token from {self.name} names several audiences but not which "
                    "one it was issued to"))
            self._refuse("invalid_token",
                         f"the ID token from {self.name} lacks the {exc.claim} claim")
        except InvalidClaimError as exc:
            self._refuse(*self._claim_failure(exc.claim, claims.get(exc.claim)))

    def _claim_failure(self, claim: str, value: Any) -> tuple[str, str]:
        numeric = isinstance(value, int | float) and not isinstance(value, bool)
        if claim == "iss":
            return "issuer_mismatch", (
                f"the ID token was issued by {str(value)[:200]!r}, not by {self._issuer!r}")
        if claim in ("aud", "azp"):
            return "wrong_audience", (
                f"the ID token from {self.name} was issued to another application")
        if claim in ("iat", "nbf") and numeric:
            return "token_not_yet_valid", (
                f"the ID token from {self.name} is dated in the future; a clock is wrong")
        return "invalid_token", f"the ID token from {self.name} has an invalid {claim} claim"

    def _check_nonce(self, received: Any, expected: str) -> None:
        """The nonce ties the token to the sign-in this browser started, so a token stolen
        from another sign-in cannot be replayed into this one."""
        if not isinstance(received, str) or not hmac.compare_digest(
            received.encode(), expected.encode()
        ):
            self._refuse("nonce_mismatch", (
                f"the ID token from {self.name} belongs to another sign-in (nonce mismatch)"))

    # --- helpers ------------------------------------------------------------------------

    def _json_object(self, response: HttpResponse, what: str) -> dict[str, Any]:
        if response.status != 200:
            raise ProviderUnavailable(
                f"{self.name} did not serve {what} (HTTP {response.status}); "
                "sign-in with it is unavailable for now")
        try:
            document = response.json()
        except ValueError:
            document = None
        if not isinstance(document, dict):
            raise ProviderUnavailable(f"{self.name} served {what} in an unreadable form")
        return document

    def _refuse(self, reason: str, detail: str) -> NoReturn:
        raise SignInRefused(detail, reason=reason)
