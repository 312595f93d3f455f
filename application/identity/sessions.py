"""Sessions: access tokens bound to a session, refresh tokens that rotate on every use, and
the whole family revoked when a used one comes back."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta

from application.ports import Clock, TokenIssuer, UnitOfWork, UnitOfWorkFactory
from application.transactions import new_id
from domain.customers import Customer
from domain.errors import Unauthorized
from domain.evidence import EvidenceDraft
from domain.identity import RefreshReused, Session, SessionStatus, digest


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    expires_in: int
    refresh_token: str
    refresh_expires_in: int
    token_type: str = "bearer"  # noqa: S105 - the OAuth token type


class SessionService:
    """Access tokens bound to sessions; refresh tokens rotate on every use, and a reused one
    revokes its whole family."""

    def __init__(self, uow: UnitOfWorkFactory, tokens: TokenIssuer, clock: Clock,
                 refresh_lifetime: timedelta) -> None:
        self._uow, self._tokens, self._clock = uow, tokens, clock
        self._refresh_lifetime = refresh_lifetime

    async def open(self, uow: UnitOfWork, customer: Customer,
                   family_id: str | None = None) -> TokenPair:
        now = self._clock.now()
        refresh = secrets.token_urlsafe(32)
        session = Session(new_id("ses"), customer.id, family_id or new_id("fam"),
                          digest(refresh), now, now + self._refresh_lifetime)
        await uow.sign_ins.sessions.add(session)
        access, lifetime = self._tokens.issue(customer, session.id)
        return TokenPair(access, lifetime, refresh,
                         int(self._refresh_lifetime.total_seconds()))

    async def refresh(self, refresh_token: str) -> TokenPair:
        async with self._uow() as uow:
            session = await uow.sign_ins.sessions.by_refresh(digest(refresh_token))
            if session is None:
                raise Unauthorized("this refresh token is not valid; sign in again")
            try:
                session.check_refresh(self._clock.now())
                customer = await uow.customers.get(session.customer_id)
                if customer is None:
                    raise Unauthorized("this account no longer exists")
                pair = await self.open(uow, customer, session.family_id)
                successor = await uow.sign_ins.sessions.by_refresh(digest(pair.refresh_token))
                assert successor is not None
                if not await uow.sign_ins.sessions.rotate(session.id, successor.id):
                    raise RefreshReused("this refresh token was used already: every session "
                                        "of this sign-in is revoked; sign in again")
            except RefreshReused:
                reused = session  # revoked below, once this transaction is rolled back
            else:
                await uow.commit()
                return pair
        await self._revoke_reused(reused)
        raise RefreshReused("this refresh token was used already: every session of this "
                            "sign-in is revoked; sign in again")

    async def _revoke_reused(self, session: Session) -> None:
        """A rotated token came back: someone kept a copy. End every session of it (in a
        transaction of its own, so the refusal cannot undo it)."""
        async with self._uow() as uow:
            await uow.sign_ins.sessions.revoke_family(session.family_id)
            await uow.evidence.append(EvidenceDraft(
                source="auth", kind="session.refresh_reused",
                subject=f"customer:{session.customer_id}",
                context={"family_id": session.family_id}, payload={"revoked": "family"}))
            await uow.commit()

    async def logout(self, access_token: str, everywhere: bool = False) -> int:
        claims = self._tokens.claims(access_token)
        async with self._uow() as uow:
            if everywhere:
                revoked = await uow.sign_ins.sessions.revoke_customer(str(claims["sub"]))
            else:
                session = await uow.sign_ins.sessions.get(str(claims.get("sid", "")))
                revoked = (await uow.sign_ins.sessions.revoke_family(session.family_id)
                           if session else 0)
            await uow.commit()
        return revoked

    def require_recent(self, access_token: str, within: timedelta = timedelta(minutes=10)
                       ) -> None:
        """Irreversible steps (erasure, merging) need a sign-in from the last minutes, not
        only a token that is still valid."""
        issued = self._tokens.claims(access_token).get("iat", 0)
        if self._clock.now().timestamp() - float(issued) > within.total_seconds():
            raise Unauthorized("this needs a recent sign-in: sign in again (with your "
                               "password or a provider), then repeat the request")

    async def authenticate(self, access_token: str) -> Customer:
        claims = self._tokens.claims(access_token)
        async with self._uow(read_only=True) as uow:
            if claims.get("sid"):
                # One statement when all is well; what went wrong is read only when it did.
                customer = await uow.customers.signed_in(str(claims["sub"]), str(claims["sid"]))
                if customer is not None:
                    return customer
                session = await uow.sign_ins.sessions.get(str(claims["sid"]))
                if session is None or session.status == SessionStatus.REVOKED:
                    raise Unauthorized("you signed out of this session; sign in again")
            customer = await uow.customers.get(str(claims["sub"]))
        if customer is None:
            raise Unauthorized("this account no longer exists; sign in again")
        return customer
