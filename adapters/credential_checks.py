"""How each provider's proposed credential or endpoint is validated before it is used.

* A webhook secret: a test event is signed with it in the provider's own scheme and checked
  by the verifier the provider's callbacks go through (so the secret is of a shape that
  scheme can use), and refused under the secret in force (so it is really new).
* An API key: an authenticated read-only call to the provider with it (Stripe's balance,
  EasyPost's address list, Twilio's account): a refused key or an unreachable provider
  fails the validation.
* An endpoint: the same call to the new base URL, with the key in force.
* An OpenID sign-in provider's client secret: a code no one was given is redeemed with it at
  the provider's token endpoint, which authenticates the client before it looks at the code.

Every call goes through OutboundHttp, so each validation leaves its exchange as evidence.
"""

from __future__ import annotations

import base64
import json
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

from adapters import signing
from adapters.http import OutboundHttp
from adapters.messaging.twilio import twilio_signature
from adapters.shipping import easypost_tracking
from adapters.shipping.easypost import basic_authorization
from domain.errors import InvalidSignature, ProviderUnavailable
from domain.provider_credentials import CredentialKind

K = CredentialKind
Check = Callable[[str], Awaitable[str | None]]  # the reason it failed, or None
TEST_EVENT = json.dumps({"id": "evt_rotation_check", "type": "rotation.check"}).encode()
TWILIO_CHECK_URL = "https://mall.invalid/v1/webhooks/twilio/status"
# What each provider's webhook secret looks like (a wrong paste is caught before use).
SECRET_SHAPES = {"stripe": re.compile(r"whsec_[A-Za-z0-9+/=_-]{16,}"),
                 "sandbox": re.compile(r".{16,}"),
                 "easypost": re.compile(r".{16,}"),
                 "twilio": re.compile(r"[0-9a-f]{32}")}


@dataclass(frozen=True)
class ProviderAccess:
    """How to reach a provider now: its base URL and key in force (callables, so a rotation
    already done counts), and its read-only check call."""

    base_url: Callable[[], str]
    api_key: Callable[[], str]
    path: str  # the read-only call, after the base URL
    authorization: Callable[[str], str]


def bearer(key: str) -> str:
    return f"Bearer {key}"


def twilio_basic(account_sid: str) -> Callable[[str], str]:
    def header(token: str) -> str:
        return "Basic " + base64.b64encode(f"{account_sid}:{token}".encode()).decode()
    return header


class ClientSecretCheck(Protocol):
    async def client_secret_refused(self, secret: str) -> str | None: ...


class CredentialChecks:
    def __init__(self, http: OutboundHttp, access: Mapping[str, ProviderAccess],
                 secrets_in_force: Callable[[str], list[str]],
                 sign_in_providers: Callable[[], Mapping[str, object]] = dict) -> None:
        """`sign_in_providers`: the configured identity providers; an OpenID one's client
        secret (kind api_key) is checked at its token endpoint."""
        self._http, self._access, self._in_force = http, access, secrets_in_force
        self._sign_in = sign_in_providers

    def _identity(self, provider: str) -> ClientSecretCheck | None:
        if provider in self._access:
            return None
        found = self._sign_in().get(provider)
        return found if hasattr(found, "client_secret_refused") else None

    def supports(self, provider: str, kind: CredentialKind) -> bool:
        if kind == K.WEBHOOK_SECRET:
            return provider in SECRET_SHAPES
        if kind == K.API_KEY and self._identity(provider) is not None:
            return True
        return provider in self._access

    async def check(self, provider: str, kind: CredentialKind, value: str) -> str | None:
        if kind == K.WEBHOOK_SECRET:
            return self._signed_test_event(provider, value)
        identity = self._identity(provider)
        if identity is not None:
            return await identity.client_secret_refused(value)
        access = self._access[provider]
        if kind == K.API_KEY:
            return await self._call(provider, access.base_url(), access.authorization(value),
                                    access.path)
        if not re.fullmatch(r"https?://[^\s/]+(/[^\s]*)?", value):
            return "an endpoint is an http(s) URL, e.g. https://api.easypost.com"
        return await self._call(provider, value, access.authorization(access.api_key()),
                                access.path)

    def _signed_test_event(self, provider: str, secret: str) -> str | None:
        if not SECRET_SHAPES[provider].fullmatch(secret):
            return f"this is not the shape of a {provider} webhook secret"
        if secret in self._in_force(provider):
            return "this secret is already in force"
        sign, verify = _SCHEMES[provider]
        try:
            verify(sign(secret), [secret])
        except InvalidSignature as exc:
            return f"a test event signed with it was refused: {exc.detail}"
        try:
            verify(sign(secret), self._in_force(provider) or ["\x00"])
        except InvalidSignature:
            return None
        return "a test event signed with it passes under the secret in force"

    async def _call(self, provider: str, base_url: str, authorization: str,
                    path: str) -> str | None:
        try:
            response = await self._http.request(
                provider, "GET", base_url.rstrip("/") + path, subject=f"provider:{provider}",
                headers={"Authorization": authorization, "Accept": "application/json"},
                timeout_seconds=10)
        except ProviderUnavailable as exc:
            return f"{provider} could not be reached: {exc.detail}"
        if response.status in (401, 403):
            return f"{provider} refused the credentials (HTTP {response.status})"
        if not 200 <= response.status < 300:
            return f"{provider} answered HTTP {response.status} to a read-only call"
        return None


def _stripe_scheme() -> tuple[Callable[[str], tuple[str, bytes]],
                              Callable[[tuple[str, bytes], list[str]], None]]:
    def sign(secret: str) -> tuple[str, bytes]:
        return signing.sign(secret, TEST_EVENT, int(time.time())), TEST_EVENT

    def verify(signed: tuple[str, bytes], secrets: list[str]) -> None:
        signing.verify(signed[0], signed[1], secrets)
    return sign, verify


def _easypost_scheme() -> tuple[Callable[[str], tuple[str, bytes]],
                                Callable[[tuple[str, bytes], list[str]], None]]:
    def sign(secret: str) -> tuple[str, bytes]:
        return easypost_tracking.signature(secret, TEST_EVENT), TEST_EVENT

    def verify(signed: tuple[str, bytes], secrets: list[str]) -> None:
        easypost_tracking.verify_signature(signed[0], signed[1], secrets)
    return sign, verify


def _twilio_scheme() -> tuple[Callable[[str], tuple[str, bytes]],
                              Callable[[tuple[str, bytes], list[str]], None]]:
    params = [("MessageSid", "SM_rotation_check"), ("MessageStatus", "delivered")]

    def sign(secret: str) -> tuple[str, bytes]:
        return twilio_signature(TWILIO_CHECK_URL, params, secret), b""

    def verify(signed: tuple[str, bytes], secrets: list[str]) -> None:
        if not any(twilio_signature(TWILIO_CHECK_URL, params, s) == signed[0]
                   for s in secrets):
            raise InvalidSignature("no Twilio signature matches")
    return sign, verify


_SCHEMES = {"stripe": _stripe_scheme(), "sandbox": _stripe_scheme(),
            "easypost": _easypost_scheme(), "twilio": _twilio_scheme()}
EASYPOST_CHECK = "/v2/addresses?page_size=1"
STRIPE_CHECK = "/v1/balance"


def easypost_access(base_url: Callable[[], str], api_key: Callable[[], str]) -> ProviderAccess:
    return ProviderAccess(base_url, api_key, EASYPOST_CHECK, basic_authorization)


def stripe_access(base_url: Callable[[], str], api_key: Callable[[], str]) -> ProviderAccess:
    return ProviderAccess(base_url, api_key, STRIPE_CHECK, bearer)
