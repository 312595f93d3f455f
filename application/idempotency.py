"""Idempotency keys for mutating storefront calls (IETF httpapi idempotency-key draft).

The same key and the same body give back the first response; another body is a 422; a request
still in flight is a 409. Keys belong to one customer and expire after `ttl`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from application.ports import Clock, IdempotencyRecord, UnitOfWorkFactory
from domain.errors import Conflict, DomainError

MAX_KEY_LENGTH = 255


class KeyReused(DomainError):
    code = "idempotency-key-reused"


class RequestInFlight(Conflict):
    code = "request-in-flight"


@dataclass(frozen=True)
class Replay:
    status: int
    body: Any


class IdempotencyGuard:
    def __init__(
        self, uow: UnitOfWorkFactory, clock: Clock, ttl: timedelta,
        abandoned_after: timedelta = timedelta(minutes=2),
    ) -> None:
        self._uow, self._clock, self._ttl = uow, clock, ttl
        # A request "in flight" for longer than this died with its process: let a retry in.
        self._abandoned_after = abandoned_after

    @staticmethod
    def fingerprint(method: str, path: str, body: bytes) -> str:
        return hashlib.sha256(method.encode() + b" " + path.encode() + b"\n" + body).hexdigest()

    async def begin(self, customer_id: str, key: str, fingerprint: str) -> Replay | None:
        """Reserve the key; a Replay when the request was answered before."""
        if not key or len(key) > MAX_KEY_LENGTH:
            raise DomainError(f"Idempotency-Key must be 1 to {MAX_KEY_LENGTH} characters")
        now = self._clock.now()
        record = IdempotencyRecord(customer_id, key, fingerprint, "in_flight", None, None,
                                   now + self._ttl)
        async with self._uow() as uow:
            existing = await uow.idempotency.reserve(record)
            if existing is not None and self._abandoned(existing):
                await uow.idempotency.forget(customer_id, key)
                existing = await uow.idempotency.reserve(record)
            await uow.commit()
        if existing is None:
            return None
        if existing.request_hash != fingerprint:
            raise KeyReused("this Idempotency-Key was used with a different request body; "
                            "use a new key for a new request")
        if existing.status == "in_flight":
            raise RequestInFlight("a request with this Idempotency-Key is still being "
                                  "processed; retry in a moment")
        return Replay(existing.response_status or 200, existing.response_body)

    def _abandoned(self, existing: IdempotencyRecord) -> bool:
        started = existing.expires_at - self._ttl
        return (existing.status == "in_flight"
                and self._clock.now() - started > self._abandoned_after)

    async def finish(self, customer_id: str, key: str, status: int, body: Any) -> None:
        async with self._uow() as uow:
            if status >= 500:
                # Not a final answer: let the client retry the same key.
                await uow.idempotency.forget(customer_id, key)
            else:
                await uow.idempotency.complete(customer_id, key, status, body)
            await uow.commit()

    async def purge(self) -> int:
        async with self._uow() as uow:
            removed = await uow.idempotency.purge_expired(self._clock.now())
            await uow.commit()
        return removed
