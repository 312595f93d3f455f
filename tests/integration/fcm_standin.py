"""A stand-in for Google's OAuth2 token endpoint and FCM's HTTP v1 `messages:send`, written
from Google's documentation ("Using OAuth 2.0 for server to server applications"; FCM's
`projects.messages.send` reference and its ErrorCode list), not recorded from Google.

The token endpoint verifies each jwt-bearer assertion with Google's own library
(`google-auth`'s `google.auth.jwt.decode`) against the test service account's public key,
and checks the issuer, audience and FCM scope; `messages:send` takes only the access tokens
it issued. Device tokens named in `unregistered` answer 404 UNREGISTERED, as FCM does for an
app that was uninstalled.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from google.auth import jwt as google_jwt

SCOPE = "https://www.googleapis.com/auth/firebase.messaging"
PROJECT = "mall-test"
KEY_ID = "test-key-1"
CLIENT_EMAIL = f"fcm-sender@{PROJECT}.iam.gserviceaccount.com"


def service_account_key(token_uri: str) -> tuple[dict[str, Any], str]:
    """A service account key file's contents for a key made now, and its public key (PEM)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private_pem = key.private_bytes(serialization.Encoding.PEM,
                                    serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption()).decode()
    public_pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    info = {"type": "service_account", "project_id": PROJECT, "private_key_id": KEY_ID,
            "private_key": private_pem, "client_email": CLIENT_EMAIL,
            "client_id": "100000000000000000001", "token_uri": token_uri}
    return info, public_pem


def fcm_error(status: int, google_status: str, code: str, message: str) -> web.Response:
    return web.json_response({"error": {
        "code": status, "message": message, "status": google_status,
        "details": [{"@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError",
                     "errorCode": code}]}}, status=status)


@dataclass
class FcmStandIn:
    public_key_pem: str = ""  # set once the key is made (it needs our token URL)
    token_lifetime_seconds: int = 3600
    issued: list[str] = field(default_factory=list)
    assertions: list[dict[str, Any]] = field(default_factory=list)  # verified claims
    refusals: list[str] = field(default_factory=list)  # why a request was refused
    sent: list[dict[str, Any]] = field(default_factory=list)  # each message taken
    unregistered: set[str] = field(default_factory=set)
    fail_next: list[int] = field(default_factory=list)
    _numbers: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def application(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/token", self.token)
        app.router.add_post("/v1/projects/{project}/messages:send", self.send)
        return app

    async def token(self, request: web.Request) -> web.Response:
        form = await request.post()
        if form.get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer":
            self.refusals.append("grant_type")
            return web.json_response({"error": "unsupported_grant_type"}, status=400)
        try:
            claims = google_jwt.decode(str(form.get("assertion", "")),
                                       certs={KEY_ID: self.public_key_pem},
                                       audience=str(request.url), clock_skew_in_seconds=60)
        except ValueError as exc:
            self.refusals.append(f"assertion: {exc}")
            return web.json_response({"error": "invalid_grant",
                                      "error_description": "Invalid JWT Signature."},
                                     status=400)
        if claims.get("iss") != CLIENT_EMAIL or claims.get("scope") != SCOPE:
            self.refusals.append(f"claims: {claims}")
            return web.json_response({"error": "invalid_scope"}, status=400)
        self.assertions.append(claims)
        token = f"ya29.test-{next(self._numbers)}"
        self.issued.append(token)
        return web.json_response({"access_token": token, "token_type": "Bearer",
                                  "expires_in": self.token_lifetime_seconds})

    async def send(self, request: web.Request) -> web.Response:
        if self.fail_next:
            status = self.fail_next.pop(0)
            return fcm_error(status, "UNAVAILABLE" if status >= 500 else "RESOURCE_EXHAUSTED",
                             "UNAVAILABLE" if status >= 500 else "QUOTA_EXCEEDED", "try later")
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme != "Bearer" or token not in self.issued:
            self.refusals.append("bearer")
            return fcm_error(401, "UNAUTHENTICATED", "THIRD_PARTY_AUTH_ERROR",
                             "Request had invalid authentication credentials.")
        if request.match_info["project"] != PROJECT:
            self.refusals.append("project")
            return fcm_error(403, "PERMISSION_DENIED", "SENDER_ID_MISMATCH", "wrong project")
        body = json.loads(await request.read())
        message = body.get("message") if isinstance(body, dict) else None
        if (not isinstance(message, dict) or set(body) != {"message"}
                or not isinstance(message.get("token"), str)
                or not all(isinstance(v, str) for v in message.get("data", {}).values())
                or set(message.get("notification", {})) - {"title", "body", "image"}):
            self.refusals.append(f"message: {body}")
            return fcm_error(400, "INVALID_ARGUMENT", "INVALID_ARGUMENT", "Invalid message")
        if message["token"] in self.unregistered:
            return fcm_error(404, "NOT_FOUND", "UNREGISTERED", "Requested entity was not found.")
        self.sent.append(message)
        return web.json_response(
            {"name": f"projects/{PROJECT}/messages/0:{next(self._numbers)}%test"})
