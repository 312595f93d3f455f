"""Redeeming the authorization code and checking the ID token that comes back: the
callback's issuer (RFC 9207), the token's signature, claims and nonce."""

from __future__ import annotations

import base64
import hmac
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from authlib.oidc.core import CodeIDToken  # type: ignore[import-untyped]
from joserfc import jwt
from joserfc.errors import (
    BadSignatureError,
    ExpiredTokenError,
    InvalidClaimError,
    JoseError,
    MissingClaimError,
)
from joserfc.jws import extract_compact

from adapters.identity.oidc.client import _Discovery
from adapters.identity.oidc.discovery import OidcDiscovery
from adapters.identity.oidc.presets import SECRET_IN_HEADER
from domain.errors import ProviderUnavailable


class OidcTokens(OidcDiscovery):
    """Redeeming a code and checking the ID token: issuer, signature, claims, nonce."""

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

    def _authenticate(self, form: dict[str, str], headers: dict[str, str], secret: str) -> None:
        """Client authentication at the token endpoint, in the registered method."""
        if self._token_auth == SECRET_IN_HEADER and secret:
            # RFC 6749 §2.3.1: both parts form-encoded before joining.
            pair = f"{quote(self._client_id, safe='')}:{quote(secret, safe='')}"
            headers["Authorization"] = f"Basic {base64.b64encode(pair.encode()).decode()}"
        else:
            form["client_id"] = self._client_id
            if secret:
                form["client_secret"] = secret

    async def client_secret_refused(self, secret: str) -> str | None:
        """Why the provider does not take `secret` as our client secret, or None when it
        does. A code no one was given is redeemed with it: the token endpoint authenticates
        the client first (RFC 6749 §5.2), so `invalid_client` means the secret is wrong and
        any other refusal (`invalid_grant`) that it was accepted. Nothing is issued."""
        try:
            discovery = await self._discover()
            form = {"grant_type": "authorization_code", "code": "mall-rotation-check",
                    "redirect_uri": "https://mall.invalid/rotation-check"}
            headers = {"Accept": "application/json"}
            self._authenticate(form, headers, secret)
            response = await self._http.request(
                self.name, "POST", discovery.token_endpoint, subject=self._subject, form=form,
                headers=headers, idempotent=False)
        except ProviderUnavailable as exc:
            return f"{self.name} could not be reached: {exc.detail}"
        body = response.json_object() or {}
        if response.status == 401 or body.get("error") == "invalid_client":
            return f"{self.name} refused the client secret (invalid_client)"
        if response.status >= 500 or response.status < 400:
            return (f"{self.name} answered HTTP {response.status} where a refusal of the test "
                    "code was expected")
        return None

    async def _redeem(
        self, discovery: _Discovery, code: str, code_verifier: str, redirect_uri: str
    ) -> Mapping[str, Any]:
        form = {"grant_type": "authorization_code", "code": code,
                "redirect_uri": redirect_uri, "code_verifier": code_verifier}
        headers = {"Accept": "application/json"}
        self._authenticate(form, headers, self._secret_factory() if self._secret_factory
                           else self._client_secret)
        # A code redeems once: a repeated POST could only fail, so it is never retried.
        response = await self._http.request(
            self.name, "POST", discovery.token_endpoint, subject=self._subject, form=form,
            headers=headers, idempotent=False, secret_fields=("code", "code_verifier"))
        if response.status >= 500:
            raise ProviderUnavailable(
                f"{self.name} failed to redeem the sign-in code (HTTP {response.status}); "
                "start the sign-in again later")
        body = response.json_object()
        error = body.get("error") if body is not None else None
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
