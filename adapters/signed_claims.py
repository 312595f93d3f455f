"""Compact HMAC-signed claims ("<base64url JSON>.<base64url HMAC-SHA256>") for the sandboxes'
own short-lived grants (a sign-in code, a verification token): what their real counterparts
would keep server-side or sign with their own keys."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def sign_claims(key: bytes, claims: dict[str, Any]) -> str:
    body = b64(json.dumps(claims, separators=(",", ":")).encode())
    return f"{body}.{b64(hmac.new(key, body.encode(), hashlib.sha256).digest())}"


def verified_claims(key: bytes, token: str) -> dict[str, Any] | None:
    """The claims of a token signed with `key`; None when forged, altered or malformed."""
    body, _, signature = token.partition(".")
    expected = b64(hmac.new(key, body.encode(), hashlib.sha256).digest())
    if not signature or not hmac.compare_digest(signature, expected):
        return None
    try:
        claims = json.loads(unb64(body))
    except ValueError:
        return None
    return claims if isinstance(claims, dict) else None
