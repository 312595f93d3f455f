"""Repositories of who is signed in and how: linked identities, sign-in flows, pending
links, sessions, real-name verifications, consents and sign-in events."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import Any

from domain.identity import AuthFlow, Identity, PendingLink, Session, SessionStatus
from tests.fakes.storage import AggregateRepository, Repository


class FakeIdentityLinks(Repository):
    name = "identities"

    async def add(self, identity: Identity) -> bool:
        if identity.key in self._rows:
            return False
        self._put(identity.key, identity)
        return True

    async def by_subject(self, provider: str, subject: str) -> Identity | None:
        found: Identity | None = self._get(f"{provider}|{subject}")
        return found

    async def of_customer(self, customer_id: str) -> list[Identity]:
        return [i for i in self._all() if i.customer_id == customer_id]

    async def remove(self, provider: str, subject: str) -> None:
        self._rows.pop(f"{provider}|{subject}", None)

    async def move(self, from_customer: str, to_customer: str) -> int:
        moved = [i for i in self._all() if i.customer_id == from_customer]
        for identity in moved:
            self._put(identity.key, replace(identity, customer_id=to_customer))
        return len(moved)


class FakeAuthFlows(Repository):
    name = "flows"

    async def add(self, flow: AuthFlow) -> None:
        self._put(flow.state_hash, replace(flow, used=False))

    async def take(self, state_hash: str) -> AuthFlow | None:
        flow = self._get(state_hash)
        if flow is None:
            return None
        used = flow.used
        self._put(state_hash, replace(flow, used=True))
        return replace(flow, used=used)  # type: ignore[no-any-return]

    async def purge(self, created_before: datetime) -> int:
        return self._purge(lambda flow: flow.created_at < created_before)


class FakePendingLinks(AggregateRepository[PendingLink], key="token_hash", value="link"):
    name, key_field = "pending_links", "token_hash"

    async def add(self, link: PendingLink) -> None:
        self._put(link.token_hash, replace(link, used=False))


class FakeSessions(AggregateRepository[Session], key="session_id", value="session"):
    name = "sessions"

    async def by_refresh(self, refresh_hash: str) -> Session | None:
        return self._find(lambda s: s.refresh_hash == refresh_hash)

    async def rotate(self, session_id: str, successor_id: str) -> bool:
        session = await self.get(session_id)
        if session is None or session.status != SessionStatus.ACTIVE:
            return False
        session.status, session.replaced_by = SessionStatus.ROTATED, successor_id
        self._put(session_id, session)
        return True

    async def _revoke(self, matches: Callable[[Session], bool]) -> int:
        revoked = [s for s in self._all() if matches(s) and s.status != SessionStatus.REVOKED]
        for session in revoked:
            session.status = SessionStatus.REVOKED
            self._put(session.id, session)
        return len(revoked)

    async def revoke_family(self, family_id: str) -> int:
        return await self._revoke(lambda s: s.family_id == family_id)

    async def revoke_customer(self, customer_id: str) -> int:
        return await self._revoke(lambda s: s.customer_id == customer_id)


class FakeRealNames(Repository):
    name = "real_names"

    async def add(self, customer_id: str, di_index: str, ci_ciphertext: str, key_id: str,
                  verified_at: datetime, adult: bool) -> bool:
        if customer_id in self._rows or any(r["di_index"] == di_index
                                            for r in self._rows.values()):
            return False
        self._rows[customer_id] = {"customer_id": customer_id, "di_index": di_index,
                                   "ci_ciphertext": ci_ciphertext, "key_id": key_id,
                                   "verified_at": verified_at, "adult": adult}
        return True

    async def owner_of(self, di_index: str) -> str | None:
        return next((r["customer_id"] for r in self._rows.values()
                     if r["di_index"] == di_index), None)

    async def of_customer(self, customer_id: str) -> dict[str, Any] | None:
        found: dict[str, Any] | None = self._get(customer_id)
        return found

    async def rekey(self, customer_id: str, ci_ciphertext: str, key_id: str) -> None:
        if customer_id in self._rows:
            self._rows[customer_id] = {**self._rows[customer_id],
                                       "ci_ciphertext": ci_ciphertext, "key_id": key_id}

    async def key_ids(self) -> list[str]:
        return sorted({r["key_id"] for r in self._rows.values()})

    async def under_key(self, key_id: str, limit: int) -> list[dict[str, Any]]:
        return [r for r in self._all() if r["key_id"] == key_id][:limit]


class FakeConsents(Repository):
    name = "consents"

    async def set(self, customer_id: str, purpose: str, granted: bool) -> None:
        self._rows[(customer_id, purpose)] = granted
        self._unit.table("consent_times")[(customer_id, purpose)] = self._now()

    async def of_customer(self, customer_id: str) -> dict[str, bool]:
        return {purpose: granted for (who, purpose), granted in self._rows.items()
                if who == customer_id}

    async def granted_before(self, purposes: list[str], before: datetime, after: str,
                             limit: int) -> list[tuple[str, str, datetime]]:
        times = self._unit.table("consent_times")
        found = sorted((who, purpose, times[(who, purpose)])
                       for (who, purpose), granted in self._rows.items()
                       if granted and purpose in purposes and times[(who, purpose)] <= before
                       and f"{who}|{purpose}" > after)
        return found[:limit]


class FakeAuthEvents(Repository):
    name = "auth_events"

    async def add(self, name: str, provider: str, *, channel: str = "", campaign: str = "",
                  reason: str = "", flow: str = "", anon_id: str = "", at: float) -> None:
        self._append({"at": at, "name": name, "provider": provider, "channel": channel[:64],
                      "campaign": campaign[:64], "reason": reason[:64], "flow": flow,
                      "anon_id": anon_id})

    async def between(self, start: float, end: float) -> list[dict[str, Any]]:
        return [{k: e[k] for k in ("name", "provider", "channel", "campaign", "reason", "flow")}
                for e in self._all() if start <= e["at"] < end]
