"""Naver Login: plain OAuth 2.0 and a profile endpoint, since Naver offers no OpenID Connect.

Without OpenID Connect there is no signed ID token, no nonce and no PKCE: Naver ignores
`code_challenge` and `nonce`, so they are not sent (sending them would only suggest a
protection that does not exist). What binds the callback to the browser that started the
sign-in is the `state`, which the application generates, stores server-side, and checks and
consumes on the callback before calling `exchange_code`; the client secret then keeps anyone
else from redeeming the code. Identity comes from the profile endpoint over TLS, on the
access token just issued to us.

Naver never says whether an email was verified, so such emails are reported unverified and
must never link an existing account on their own.

Before a customer is sent to Naver's login page, that page is asked once, with a short
timeout, whether it answers; a link asks Naver to make the person sign in again
(`auth_type=reauthenticate`, Naver's counterpart of OpenID Connect's prompt=login).
"""

from __future__ import annotations

from typing import Any, NoReturn
from urllib.parse import urlencode

from adapters.http import HttpResponse, OutboundHttp
from application.ports import AuthorizationRequest, CallbackParams, VerifiedIdentity
from domain.errors import ProviderUnavailable, SignInRefused


class NaverProvider:
    name = "naver"
    response_mode = "query"

    def __init__(
        self,
        http: OutboundHttp,
        *,
        client_id: str,
        client_secret: str,
        authorize_url: str = "https://nid.naver.com/oauth2.0/authorize",
        token_url: str = "https://nid.naver.com/oauth2.0/token",  # noqa: S107 - a URL
        profile_url: str = "https://openapi.naver.com/v1/nid/me",
        liveness_timeout_seconds: float = 2.0,
    ) -> None:
        if not client_id or not client_secret:
            raise ValueError("Naver Login needs a client id and a client secret")
        self._http = http
        self._client_id, self._client_secret = client_id, client_secret
        self._authorize_url, self._token_url = authorize_url, token_url
        self._profile_url = profile_url
        self._liveness_timeout = liveness_timeout_seconds
        self._subject = f"identity:{self.name}"

    async def authorization_url(self, request: AuthorizationRequest) -> str:
        await self._check_alive()
        params = {"response_type": "code", "client_id": self._client_id,
                  "redirect_uri": request.redirect_uri, "state": request.state}
        if request.prompt == "login":
            params["auth_type"] = "reauthenticate"
        return f"{self._authorize_url}?{urlencode(params)}"

    async def _check_alive(self) -> None:
        """One quick try at the login page the customer is about to be sent to (its breaker
        counts a failure): any answer short of a server error means it is up. HEAD, so the
        evidence of each check keeps no copy of the page."""
        response = await self._http.request(
            self.name, "HEAD", self._authorize_url, subject=self._subject,
            timeout_seconds=self._liveness_timeout, idempotent=False)
        if response.status >= 500:
            raise ProviderUnavailable(f"Naver's login page answers HTTP {response.status}")

    async def exchange_code(
        self, callback: CallbackParams, *, code_verifier: str, nonce: str, redirect_uri: str
    ) -> VerifiedIdentity:
        access_token = await self._redeem(callback, nonce)
        profile = await self._profile(access_token)
        subject = profile.get("id")
        if not isinstance(subject, str) or not subject:
            self._refuse("invalid_token", "Naver's profile answer has no member id")
        email = profile.get("email")
        return VerifiedIdentity(self.name, subject,
                                email if isinstance(email, str) and email else None,
                                email_verified=False)

    async def available(self) -> bool:
        return await self._http.available(self.name)

    def fault(self) -> str | None:
        return None  # nothing to discover: a wrong setting shows at the code exchange

    async def _redeem(self, callback: CallbackParams, nonce: str) -> str:
        # Naver lists `state` as required here but only echoes it; the port does not pass the
        # state down (the application has checked and consumed it already), so unless the
        # callback carries it, the sign-in's nonce stands in: equally random, equally ours.
        state = getattr(callback, "state", None) or nonce
        # POST (Naver takes GET or POST) keeps the secret and the code out of URLs and logs.
        # A code redeems once, so the request is never retried.
        response = await self._http.request(
            self.name, "POST", self._token_url, subject=self._subject, idempotent=False,
            secret_fields=("code", "state"),
            form={"grant_type": "authorization_code", "client_id": self._client_id,
                  "client_secret": self._client_secret, "code": callback.code,
                  "state": state},
            headers={"Accept": "application/json"})
        body = self._json(response, "redeem the sign-in code", "invalid_grant")
        error = body.get("error")
        if error or response.status >= 400:
            # Naver answers a used or expired code with invalid_request ("no valid data in
            # session") as often as invalid_grant: either way the code is spent.
            self._refuse("invalid_grant", (
                f"Naver refused the sign-in code ({str(error or response.status)[:80]}); "
                "start the sign-in again"))
        access_token = body.get("access_token")
        if not isinstance(access_token, str) or not access_token:
            self._refuse("invalid_token", "Naver redeemed the code but sent no access token")
        return access_token

    async def _profile(self, access_token: str) -> dict[str, Any]:
        response = await self._http.request(
            self.name, "GET", self._profile_url, subject=self._subject, personal_response=True,
            headers={"Authorization": f"Bearer {access_token}", "Accept": "application/json"})
        body = self._json(response, "read the member profile", "invalid_token")
        if body.get("resultcode") != "00":
            self._refuse("invalid_token", (
                f"Naver refused the profile request ({str(body.get('resultcode'))[:10]}: "
                f"{str(body.get('message'))[:120]})"))
        profile = body.get("response")
        if not isinstance(profile, dict):
            self._refuse("invalid_token", "Naver's profile answer has no member data")
        return profile

    def _json(self, response: HttpResponse, what: str, refusal: str) -> dict[str, Any]:
        if response.status >= 500:
            raise ProviderUnavailable(f"Naver failed to {what} (HTTP {response.status}); "
                                      "try again later")
        body = response.json_object()
        if body is None:
            if 400 <= response.status < 500:
                self._refuse(refusal, (
                    f"Naver refused to {what} (HTTP {response.status}); start the sign-in "
                    "again"))
            raise ProviderUnavailable(f"Naver answered with something unreadable when asked "
                                      f"to {what}; try again later")
        return body

    def _refuse(self, reason: str, detail: str) -> NoReturn:
        raise SignInRefused(detail, reason=reason)
