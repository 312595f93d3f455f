"""Sign-in: identity links, flows, pending links, sessions, real names, consents, auth events."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from adapters.persistence import tables as t
from adapters.persistence.repositories._rows import _at, _with_iso
from application.ports import Clock
from domain.identity import AuthFlow, FlowPurpose, Identity, PendingLink, Session, SessionStatus


class IdentityLinkRepository:
    @staticmethod
    def _from(row: dict[str, Any]) -> Identity:
        return Identity(row["customer_id"], row["provider"], row["subject"], row["email"],
                        bool(row["email_verified"]), _at(row["linked_at"]))

    async def add(self, identity: Identity) -> bool:
        inserted = await t.IdentityLink.insert(t.IdentityLink(
            dedupe_key=identity.key, customer_id=identity.customer_id,
            provider=identity.provider, subject=identity.subject, email=identity.email,
            email_verified=identity.email_verified, linked_at=identity.linked_at,
        )).on_conflict(target=t.IdentityLink.dedupe_key, action="DO NOTHING").returning(
            t.IdentityLink.dedupe_key)
        return bool(inserted)

    async def by_subject(self, provider: str, subject: str) -> Identity | None:
        row = await t.IdentityLink.select().where(
            t.IdentityLink.dedupe_key == f"{provider}|{subject}").first()
        return self._from(row) if row else None

    async def of_customer(self, customer_id: str) -> list[Identity]:
        rows = await t.IdentityLink.select().where(
            t.IdentityLink.customer_id == customer_id).order_by(t.IdentityLink.linked_at)
        return [self._from(row) for row in rows]

    async def remove(self, provider: str, subject: str) -> None:
        await t.IdentityLink.delete().where(
            t.IdentityLink.dedupe_key == f"{provider}|{subject}")

    async def move(self, from_customer: str, to_customer: str) -> int:
        moved = await t.IdentityLink.update({t.IdentityLink.customer_id: to_customer}).where(
            t.IdentityLink.customer_id == from_customer).returning(t.IdentityLink.dedupe_key)
        return len(moved)


class AuthFlowRepository:
    async def add(self, flow: AuthFlow) -> None:
        await t.AuthFlow.insert(t.AuthFlow(
            state_hash=flow.state_hash, provider=flow.provider, purpose=flow.purpose.value,
            nonce=flow.nonce, code_verifier=flow.code_verifier, redirect_uri=flow.redirect_uri,
            customer_id=flow.customer_id, channel=flow.channel, campaign=flow.campaign,
            created_at=flow.created_at, used=False, browser_hash=flow.browser_hash,
            session_id=flow.session_id,
        ))

    async def take(self, state_hash: str) -> AuthFlow | None:
        """The flow of this state, marked used in the same statement: a state is good for
        exactly one callback, even when two arrive at once."""
        taken = await t.AuthFlow.update({t.AuthFlow.used: True}).where(
            (t.AuthFlow.state_hash == state_hash) & (t.AuthFlow.used == False)  # noqa: E712
        ).returning(*t.AuthFlow.all_columns())
        if taken:
            row = taken[0]
        else:
            row = await t.AuthFlow.select().where(t.AuthFlow.state_hash == state_hash).first()
            if row is None:
                return None
        return AuthFlow(
            state_hash=row["state_hash"], provider=row["provider"],
            purpose=FlowPurpose(row["purpose"]), nonce=row["nonce"],
            code_verifier=row["code_verifier"], redirect_uri=row["redirect_uri"],
            created_at=_at(row["created_at"]),
            customer_id=row["customer_id"], channel=row["channel"], campaign=row["campaign"],
            used=not taken, browser_hash=row["browser_hash"], session_id=row["session_id"],
        )

    async def purge(self, created_before: datetime) -> int:
        gone = await t.AuthFlow.delete().where(
            t.AuthFlow.created_at < created_before).returning(
            t.AuthFlow.state_hash)
        return len(gone)


class PendingLinkRepository:
    async def add(self, link: PendingLink) -> None:
        await t.PendingLink.insert(t.PendingLink(
            token_hash=link.token_hash, customer_id=link.customer_id, provider=link.provider,
            subject=link.subject, email=link.email, created_at=link.created_at,
            used=False))

    async def get(self, token_hash: str) -> PendingLink | None:
        row = await t.PendingLink.select().where(t.PendingLink.token_hash == token_hash).first()
        if row is None:
            return None
        return PendingLink(row["token_hash"], row["customer_id"], row["provider"],
                           row["subject"], row["email"], _at(row["created_at"]),
                           bool(row["used"]))

    async def save(self, link: PendingLink) -> None:
        await t.PendingLink.update({t.PendingLink.used: link.used}).where(
            t.PendingLink.token_hash == link.token_hash)


class SessionRepository:
    @staticmethod
    def _from(row: dict[str, Any] | None) -> Session | None:
        if row is None:
            return None
        return Session(row["id"], row["customer_id"], row["family_id"], row["refresh_hash"],
                       _at(row["created_at"]), _at(row["expires_at"]),
                       SessionStatus(row["status"]), row["replaced_by"])

    async def add(self, session: Session) -> None:
        await t.AuthSession.insert(t.AuthSession(
            id=session.id, customer_id=session.customer_id, family_id=session.family_id,
            refresh_hash=session.refresh_hash, created_at=session.created_at,
            expires_at=session.expires_at, status=session.status.value,
            replaced_by=session.replaced_by))

    async def get(self, session_id: str) -> Session | None:
        return self._from(await t.AuthSession.select().where(
            t.AuthSession.id == session_id).first())

    async def by_refresh(self, refresh_hash: str) -> Session | None:
        return self._from(await t.AuthSession.select().where(
            t.AuthSession.refresh_hash == refresh_hash).first())

    async def save(self, session: Session) -> None:
        await t.AuthSession.update({
            t.AuthSession.status: session.status.value,
            t.AuthSession.replaced_by: session.replaced_by,
        }).where(t.AuthSession.id == session.id)

    async def rotate(self, session_id: str, successor_id: str) -> bool:
        """Mark the session rotated, only if it is still active: of two refreshes racing with
        the same token, one wins and the other is seen as a reuse."""
        rotated = await t.AuthSession.update({
            t.AuthSession.status: "rotated", t.AuthSession.replaced_by: successor_id,
        }).where((t.AuthSession.id == session_id) & (t.AuthSession.status == "active")
                 ).returning(t.AuthSession.id)
        return bool(rotated)

    async def revoke_family(self, family_id: str) -> int:
        revoked = await t.AuthSession.update({t.AuthSession.status: "revoked"}).where(
            (t.AuthSession.family_id == family_id) & (t.AuthSession.status != "revoked")
        ).returning(t.AuthSession.id)
        return len(revoked)

    async def revoke_customer(self, customer_id: str) -> int:
        revoked = await t.AuthSession.update({t.AuthSession.status: "revoked"}).where(
            (t.AuthSession.customer_id == customer_id) & (t.AuthSession.status != "revoked")
        ).returning(t.AuthSession.id)
        return len(revoked)


class RealNameRepository:
    async def add(self, customer_id: str, di_index: str, ci_ciphertext: str, key_id: str,
                  verified_at: datetime, adult: bool) -> bool:
        """False when this person (DI) already has an account."""
        inserted = await t.RealNameIdentity.insert(t.RealNameIdentity(
            customer_id=customer_id, di_index=di_index, ci_ciphertext=ci_ciphertext,
            key_id=key_id, verified_at=verified_at, adult=adult,
        )).on_conflict(action="DO NOTHING").returning(t.RealNameIdentity.customer_id)
        return bool(inserted)

    async def owner_of(self, di_index: str) -> str | None:
        row = await t.RealNameIdentity.select(t.RealNameIdentity.customer_id).where(
            t.RealNameIdentity.di_index == di_index).first()
        return row["customer_id"] if row else None

    async def of_customer(self, customer_id: str) -> dict[str, Any] | None:
        row = await t.RealNameIdentity.select().where(
            t.RealNameIdentity.customer_id == customer_id).first()
        return _with_iso(row, "verified_at") if row else None

    async def rekey(self, customer_id: str, ci_ciphertext: str, key_id: str) -> None:
        await t.RealNameIdentity.update({t.RealNameIdentity.ci_ciphertext: ci_ciphertext,
                                         t.RealNameIdentity.key_id: key_id}).where(
            t.RealNameIdentity.customer_id == customer_id)

    async def key_ids(self) -> list[str]:
        rows = await t.RealNameIdentity.select(t.RealNameIdentity.key_id).distinct()
        return [row["key_id"] for row in rows]

    async def under_key(self, key_id: str, limit: int) -> list[dict[str, Any]]:
        rows = await t.RealNameIdentity.select().where(
            t.RealNameIdentity.key_id == key_id).limit(limit)
        return [_with_iso(row, "verified_at") for row in rows]


class ConsentRepository:
    def __init__(self, clock: Clock) -> None:
        self._clock = clock

    async def set(self, customer_id: str, purpose: str, granted: bool) -> None:
        now = self._clock.now()
        await t.Consent.insert(t.Consent(
            dedupe_key=f"{customer_id}|{purpose}", customer_id=customer_id, purpose=purpose,
            granted=granted, updated_at=now,
        )).on_conflict(target=t.Consent.dedupe_key, action="DO UPDATE",
                       values=[t.Consent.granted, t.Consent.updated_at])

    async def of_customer(self, customer_id: str) -> dict[str, bool]:
        rows = await t.Consent.select().where(t.Consent.customer_id == customer_id)
        return {row["purpose"]: bool(row["granted"]) for row in rows}

    async def granted_before(self, purposes: list[str], before: datetime, after: str,
                             limit: int) -> list[tuple[str, str, datetime]]:
        c = t.Consent
        rows = await c.select(c.customer_id, c.purpose, c.updated_at).where(
            (c.granted == True) & c.purpose.is_in(purposes)  # noqa: E712 - SQL, not Python
            & (c.updated_at <= before) & (c.dedupe_key > after)
        ).order_by(c.dedupe_key).limit(limit)
        return [(row["customer_id"], row["purpose"], _at(row["updated_at"])) for row in rows]


class AuthEventRepository:
    async def add(self, name: str, provider: str, *, channel: str = "", campaign: str = "",
                  reason: str = "", flow: str = "", anon_id: str = "", at: float) -> None:
        await t.AuthEvent.insert(t.AuthEvent(
            at=datetime.fromtimestamp(at, UTC), name=name, provider=provider,
            channel=channel[:64], campaign=campaign[:64], reason=reason[:64], flow=flow,
            anon_id=anon_id))

    async def between(self, start: float, end: float) -> list[dict[str, Any]]:
        rows = await t.AuthEvent.select(
            t.AuthEvent.name, t.AuthEvent.provider, t.AuthEvent.channel, t.AuthEvent.campaign,
            t.AuthEvent.reason, t.AuthEvent.flow,
        ).where((t.AuthEvent.at >= datetime.fromtimestamp(start, UTC))
                & (t.AuthEvent.at < datetime.fromtimestamp(end, UTC)))
        return [dict(row) for row in rows]
