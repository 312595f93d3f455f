"""The OpenID Connect provider port: where to send the customer, redeeming the code for a
verified identity, and whether sign-in with it works right now."""

from __future__ import annotations

from urllib.parse import urlencode

from adapters.identity.oidc.tokens import OidcTokens
from application.ports import AuthorizationRequest, CallbackParams, VerifiedIdentity
from domain.errors import ProviderUnavailable


class OidcProvider(OidcTokens):
    """An OpenID Connect provider, authorization code flow with PKCE, nonce and RFC 9207.

    Before a customer is sent there, the provider is asked whether it answers (its discovery
    document, one quick try) unless its circuit is open already; a provider whose discovery
    shows a fault (another issuer, no ID token algorithm we registered for) is reported
    unavailable with the reason instead of failing every sign-in at the callback.
    """

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
