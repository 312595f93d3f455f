"""Throttling of what strangers can repeat cheaply and the mall pays for dearly: password
checks (argon2 CPU), sign-ups, emails sent, sign-ins started at a provider.

Each action is limited per account and per client address over a sliding window; a refused
attempt is a `TooManyAttempts` (429) that says how long to wait.
"""

from __future__ import annotations

import ipaddress
import math
from typing import Protocol

from domain.errors import TooManyAttempts
from domain.privacy import pseudonym

SIGN_IN = "sign_in"
REGISTRATION = "registration"
EMAILED_LINK = "emailed_link"  # password reset links and verification links sent again
PASSWORD_RESET = "password_reset"  # noqa: S105 (an action's name, not a password)
PROVIDER_START = "provider_start"  # signing in or linking through an external provider
ACCOUNT, ADDRESS = "account", "address"

# "<action>.<account|address>": attempts per sliding window, in the `limits` notation.
# Per address is looser than per account: many customers can share one address (mobile
# carriers' NAT, offices). IPv6 addresses count per /64, what one subscriber is given.
DEFAULT_RATE_LIMITS: dict[str, str] = {
    # Failed sign-ins per account (a success forgets the failures); every try per address.
    f"{SIGN_IN}.{ACCOUNT}": "10 per 15 minutes",
    f"{SIGN_IN}.{ADDRESS}": "60 per minute",
    f"{REGISTRATION}.{ACCOUNT}": "5 per hour",
    f"{REGISTRATION}.{ADDRESS}": "20 per hour",
    f"{EMAILED_LINK}.{ACCOUNT}": "5 per hour",
    f"{EMAILED_LINK}.{ADDRESS}": "20 per hour",
    f"{PASSWORD_RESET}.{ACCOUNT}": "5 per hour",
    f"{PASSWORD_RESET}.{ADDRESS}": "20 per hour",
    f"{PROVIDER_START}.{ACCOUNT}": "20 per hour",
    f"{PROVIDER_START}.{ADDRESS}": "60 per minute",
}

_TOO_MANY = {
    SIGN_IN: "Too many sign-in attempts {whose}. Wait {wait} and try again, or ask for a "
             "password reset link (POST /v1/auth/password/forgot).",
    REGISTRATION: "Too many sign-ups {whose}. Wait {wait} and try again; if the account "
                  "exists already, sign in instead.",
    EMAILED_LINK: "Too many emails asked for {whose}. Wait {wait} before asking again; the "
                  "ones already sent may be in the spam folder.",
    PASSWORD_RESET: "Too many password resets {whose}. Wait {wait} and try again.",
    PROVIDER_START: "Too many sign-ins started {whose}. Wait {wait} and try again.",
}
_WHOSE = {ACCOUNT: "for this account", ADDRESS: "from your network"}


class RateLimiter(Protocol):
    """Counts attempts per (scope, key) over the sliding window configured for the scope.
    Counters are shared by every process that shares the limiter's store."""

    async def hit(self, scope: str, key: str) -> float | None:
        """Count one attempt: None while the limit holds; otherwise the attempt is not
        counted and the answer is how many seconds until one more would be let through."""
        ...

    async def clear(self, scope: str, key: str) -> None:
        """Forget the attempts counted for `key` in `scope`."""
        ...


class NoLimits:
    """A limiter that lets everything through (use cases built without a throttle)."""

    async def hit(self, scope: str, key: str) -> float | None:
        return None

    async def clear(self, scope: str, key: str) -> None:
        return None


class Throttle:
    """Applies an action's limits per account and per client address. Keys are pseudonyms:
    the limiter's store never sees an email or an IP address."""

    def __init__(self, limiter: RateLimiter, key: bytes) -> None:
        self._limiter, self._key = limiter, key

    async def attempt(self, action: str, *, account: str | None = None,
                      address: str | None = None) -> None:
        """Count one attempt at `action`, or raise TooManyAttempts. The address is counted
        first, so a client refused for its address spends nothing of the account's limit."""
        for scope, value in ((ADDRESS, address_key(address)), (ACCOUNT, account)):
            if not value:
                continue
            wait = await self._limiter.hit(f"{action}.{scope}", self._pseudonym(scope, value))
            if wait is not None:
                seconds = max(1, math.ceil(wait))
                raise TooManyAttempts(
                    _TOO_MANY[action].format(whose=_WHOSE[scope], wait=_readable(seconds)),
                    retry_after=seconds)

    async def succeeded(self, action: str, *, account: str) -> None:
        """The account's owner got through: the failures counted for the account go."""
        await self._limiter.clear(f"{action}.{ACCOUNT}", self._pseudonym(ACCOUNT, account))

    def _pseudonym(self, scope: str, value: str) -> str:
        return pseudonym(value, self._key, purpose=f"throttle-{scope}")


def unlimited() -> Throttle:
    return Throttle(NoLimits(), b"")


def address_key(address: str | None) -> str | None:
    """What a client address is counted as: an IPv4 address as is, an IPv6 address by its
    /64 (one subscriber's usual allocation, so rotating through it gains nothing)."""
    if not address:
        return None
    try:
        ip = ipaddress.ip_address(address.strip())
    except ValueError:
        return address.strip()[:100]
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


def _readable(seconds: int) -> str:
    if seconds < 120:
        return f"{seconds} second{'s' if seconds != 1 else ''}"
    return f"about {math.ceil(seconds / 60)} minutes"
