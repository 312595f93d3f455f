"""Pseudonymous identifiers for anything that leaves the mall (analytics, logs)."""

from __future__ import annotations

import hashlib
import hmac


def pseudonym(identifier: str, key: bytes, *, purpose: str) -> str:
    """A stable keyed hash of `identifier`, different per purpose, not reversible without key."""
    digest = hmac.new(key, f"{purpose}:{identifier}".encode(), hashlib.sha256).hexdigest()
    return f"anon_{digest[:32]}"
