"""Push notifications through Firebase Cloud Messaging's HTTP v1 API.

`POST {base}/v1/projects/{project}/messages:send` with an OAuth2 access token. The token comes
from Google's token endpoint in exchange for a JWT we sign with the service account's private
key (RS256; RFC 7523's jwt-bearer grant, scope firebase.messaging) and is reused until shortly
before it expires. A device token FCM no longer knows (`UNREGISTERED`) is a recipient that can
never be reached: the dispatcher removes the device.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from joserfc import jwt
from joserfc.jwk import RSAKey

from adapters.http import OutboundHttp
from application.ports import Clock, Envelope, SendReceipt
from domain.errors import ProviderUnavailable, RecipientRejected
from domain.messages import Channel, DeliveryStatus

FCM = "fcm"
SCOPE = "https://www.googleapis.com/auth/firebase.messaging"
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
ASSERTION_LIFETIME = timedelta(hours=1)  # the longest Google accepts
RENEW_BEFORE = timedelta(minutes=2)  # a token this close to its end is renewed first

# FCM's error codes (firebase.google.com/docs/reference/fcm/rest/v1/ErrorCode) that say this
# device token can never be reached by us.
RECIPIENT_ERRORS: dict[str, tuple[str, str]] = {
    "UNREGISTERED": ("unregistered", "the app was uninstalled or its token expired "
                                     "(FCM UNREGISTERED)"),
    "SENDER_ID_MISMATCH": ("unregistered", "the token belongs to another Firebase project "
                                           "(FCM SENDER_ID_MISMATCH)"),
    "INVALID_ARGUMENT": ("invalid_address", "FCM refused the token or the message as invalid "
                                            "(INVALID_ARGUMENT)"),
}


@dataclass(frozen=True)
class ServiceAccount:
    """The parts of a Google service account key file (JSON) that sign us in."""

    client_email: str
    private_key_id: str
    private_key_pem: str
    token_uri: str
    project_id: str

    @classmethod
    def from_info(cls, info: Mapping[str, Any]) -> ServiceAccount:
        missing = [k for k in ("client_email", "private_key", "token_uri") if not info.get(k)]
        if info.get("type", "service_account") != "service_account" or missing:
            raise ValueError("the FCM key is not a Google service account key file "
                             f"(missing: {', '.join(missing) or 'type service_account'})")
        return cls(str(info["client_email"]), str(info.get("private_key_id", "")),
                   str(info["private_key"]), str(info["token_uri"]),
                   str(info.get("project_id", "")))

    @classmethod
    def from_file(cls, path: str) -> ServiceAccount:
        try:
            info = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ValueError(f"MALL_FCM_SERVICE_ACCOUNT_FILE cannot be read as JSON "
                             f"({type(exc).__name__})") from None
        if not isinstance(info, dict):
            raise ValueError("MALL_FCM_SERVICE_ACCOUNT_FILE is not a service account key file")
        return cls.from_info(info)


def service_account_assertion(account: ServiceAccount, key: RSAKey, now: datetime) -> str:
    """The signed JWT exchanged for an access token (Google's "OAuth 2.0 for server to
    server applications")."""
    issued = int(now.timestamp())
    header = {"alg": "RS256", "typ": "JWT"}
    if account.private_key_id:
        header["kid"] = account.private_key_id
    claims = {"iss": account.client_email, "scope": SCOPE, "aud": account.token_uri,
              "iat": issued, "exp": issued + int(ASSERTION_LIFETIME.total_seconds())}
    return jwt.encode(header, claims, key, algorithms=["RS256"])


class FcmPush:
    """The push channel's FCM provider (a ChannelSender)."""

    name = FCM
    channel = Channel.PUSH.value

    def __init__(self, http: OutboundHttp, clock: Clock, account: ServiceAccount, *,
                 project_id: str = "", base_url: str = "https://fcm.googleapis.com") -> None:
        project = project_id or account.project_id
        if not project:
            raise ValueError("set MALL_FCM_PROJECT_ID: the service account key names no "
                             "project_id")
        try:
            self._key = RSAKey.import_key(account.private_key_pem)
        except ValueError:
            raise ValueError("the FCM service account's private_key is not an RSA private "
                             "key in PEM") from None
        if not self._key.is_private:
            raise ValueError("the FCM service account's private_key is a public key")
        self._http, self._clock, self._account = http, clock, account
        self._url = f"{base_url.rstrip('/')}/v1/projects/{project}/messages:send"
        self._token: tuple[str, datetime] | None = None  # the access token, its end
        # One renewal at a time per event loop (the web server and the worker have theirs).
        self._renewals: dict[asyncio.AbstractEventLoop, asyncio.Lock] = {}

    async def access_token(self) -> str:
        """A valid OAuth2 access token, renewed only when the one we hold nears its end."""
        if self._fresh() is None:
            lock = self._renewals.setdefault(asyncio.get_running_loop(), asyncio.Lock())
            async with lock:
                if self._fresh() is None:  # another task may have renewed it meanwhile
                    self._token = await self._exchange()
        token = self._fresh()
        assert token is not None
        return token

    def _fresh(self) -> str | None:
        if self._token is None or self._clock.now() >= self._token[1] - RENEW_BEFORE:
            return None
        return self._token[0]

    async def _exchange(self) -> tuple[str, datetime]:
        now = self._clock.now()
        response = await self._http.request(
            FCM, "POST", self._account.token_uri, subject="oauth2.token",
            form={"grant_type": JWT_BEARER,
                  "assertion": service_account_assertion(self._account, self._key, now)},
            secret_fields=("assertion",), idempotent=True,  # a new token each time: harmless
        )
        body = response.json_object() or {}
        token, lifetime = body.get("access_token"), body.get("expires_in", 3600)
        if response.status != 200 or not isinstance(token, str) or not token:
            error = body.get("error", "unknown")
            raise ProviderUnavailable(
                f"Google refused the FCM service account's token request: HTTP "
                f"{response.status}, {error} (check MALL_FCM_SERVICE_ACCOUNT_FILE)",
                request_sent=False)
        seconds = lifetime if isinstance(lifetime, int) and lifetime > 0 else 3600
        return token, now + timedelta(seconds=seconds)

    async def send(self, envelope: Envelope) -> SendReceipt:
        message = {
            "token": envelope.to,
            "notification": {"title": envelope.content.subject, "body": envelope.content.text},
            # Data values must be strings; ours lets the app tell repeats apart.
            "data": {**envelope.data, "message_id": envelope.message_id},
        }
        response = await self._http.request(
            FCM, "POST", self._url, subject=f"message:{envelope.message_id}",
            json_body={"message": message},
            headers={"Authorization": f"Bearer {await self.access_token()}"},
            idempotent=False,
            secret_fields=("message",),  # the device token and the text stay out of evidence
        )
        body = response.json_object() or {}
        if response.status == 200 and isinstance(body.get("name"), str):
            return SendReceipt(FCM, body["name"], DeliveryStatus.SENT.value)
        code = fcm_error_code(body)
        if response.status == 401:
            self._token = None  # revoked or expired early: the next send signs in again
        if code in RECIPIENT_ERRORS and response.status < 500:
            reason, detail = RECIPIENT_ERRORS[code]
            raise RecipientRejected(detail, reason=reason)
        raise ProviderUnavailable(
            f"FCM did not take the message: HTTP {response.status}, {code or 'no error code'}",
            request_sent=response.status >= 500)


def fcm_error_code(body: Mapping[str, Any]) -> str:
    """FCM's ErrorCode from an error answer (in `details`), else the Google API status."""
    error = body.get("error")
    if not isinstance(error, dict):
        return ""
    for detail in error.get("details") or []:
        if isinstance(detail, dict) and str(detail.get("@type", "")).endswith("FcmError"):
            return str(detail.get("errorCode", ""))
    return str(error.get("status", ""))
