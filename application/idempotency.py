"""Idempotency keys for mutating storefront calls (IETF httpapi idempotency-key draft).

A request is known by its fingerprint: the method and route it was sent to (the route template
filled with its parameters) and its canonical JSON body. The same key with the same fingerprint
gives back the first response; another endpoint or another body is a 422 that says which; a
request still in flight is a 409. Keys belong to one customer and expire after `ttl`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from application.ports import Clock, IdempotencyRecord, UnitOfWorkFactory
from domain.errors import Conflict, DomainError

MAX_KEY_LENGTH = 255


class KeyReused(DomainError):
    """The key came back with another request (another route or another body): a key
    stands for one request only, so the client needs a new key for a new request."""

    code = "idempotency-key-reused"


class RequestInFlight(Conflict):
    """The first request with this key is still being answered; retrying the same request
    in a moment gives its answer."""

    code = "request-in-flight"


@dataclass(frozen=True)
class Replay:
    status: int
    body: Any


@dataclass(frozen=True)
class Fingerprint:
    """What a key is bound to: where the request went, and a hash of what it said."""

    target: str  # "POST /v1/orders/ord_1/payments"
    body_hash: str  # sha256 of the canonical JSON body

    @classmethod
    def of(cls, method: str, route: str, params: Mapping[str, str], body: bytes) -> Fingerprint:
        """`route` is the route's template ("/v1/orders/{id}/payments") and `params` its
        values, so two spellings of one URL are one endpoint."""
        return cls(f"{method.upper()} {route.format_map(dict(params))}",
                   hashlib.sha256(canonical_json(body)).hexdigest())


def canonical_json(body: bytes) -> bytes:
    """The body with sorted keys and no insignificant whitespace, so a client that re-encodes
    the same content replays; a body that is not JSON is taken as it is."""
    try:
        value = json.loads(body) if body.strip() else None
        return json.dumps(value, sort_keys=True, separators=(",", ":"),
                          ensure_ascii=False).encode()
    except (ValueError, RecursionError):
        return body


class IdempotencyGuard:
    def __init__(
        self, uow: UnitOfWorkFactory, clock: Clock, ttl: timedelta,
        abandoned_after: timedelta = timedelta(minutes=2),
    ) -> None:
        self._uow, self._clock, self._ttl = uow, clock, ttl
        # A request "in flight" for longer than this died with its process: let a retry in.
        self._abandoned_after = abandoned_after

    async def begin(self, customer_id: str, key: str, fingerprint: Fingerprint) -> Replay | None:
        """Reserve the key; a Replay when the request was answered before."""
        if not key or len(key) > MAX_KEY_LENGTH:
            raise DomainError(f"Idempotency-Key must be 1 to {MAX_KEY_LENGTH} characters")
        now = self._clock.now()
        record = IdempotencyRecord(customer_id, key, fingerprint.body_hash, "in_flight", None,
                                   None, now + self._ttl, fingerprint.target)
        async with self._uow(autocommit=True) as uow:  # one upsert, unless the key is taken
            existing = await uow.idempotency.reserve(record)
            if existing is not None and self._abandoned(existing):
                await uow.idempotency.forget(customer_id, key)
                existing = await uow.idempotency.reserve(record)
            await uow.commit()
        if existing is None:
            return None
        _check_same_request(existing, fingerprint)
        if existing.status == "in_flight":
            raise RequestInFlight("a request with this Idempotency-Key is still being "
                                  "processed; retry in a moment")
        return Replay(existing.response_status or 200, existing.response_body)

    def _abandoned(self, existing: IdempotencyRecord) -> bool:
        started = existing.expires_at - self._ttl
        return (existing.status == "in_flight"
                and self._clock.now() - started > self._abandoned_after)

    async def finish(self, customer_id: str, key: str, status: int, body: Any) -> None:
        async with self._uow(autocommit=True) as uow:
            if status >= 500:
                # Not a final answer: let the client retry the same key.
                await uow.idempotency.forget(customer_id, key)
            else:
                await uow.idempotency.complete(customer_id, key, status, body)
            await uow.commit()

    async def purge(self) -> int:
        async with self._uow(autocommit=True) as uow:
            removed = await uow.idempotency.purge_expired(self._clock.now())
            await uow.commit()
        return removed


def _check_same_request(existing: IdempotencyRecord, fingerprint: Fingerprint) -> None:
    """A key replays one request only; the refusal says what differs."""
    if existing.request_target != fingerprint.target:
        used_for = existing.request_target or "another request"  # a row from before targets
        raise KeyReused(f"this Idempotency-Key was used for {used_for}; use a new key for "
                        f"{fingerprint.target}")
    if existing.request_hash != fingerprint.body_hash:
        raise KeyReused(f"this Idempotency-Key was used for {existing.request_target} with a "
                        "different body: send the same body to retry that request, or use a "
                        "new key for a new one")
