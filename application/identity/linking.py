"""Linking providers to one customer: a pending link confirmed by its owner, unlinking
without locking anyone out, and merging two accounts."""

from __future__ import annotations

import secrets
from typing import Any

from application.identity.funnel import SignInFunnel, epoch_of
from application.identity.outcomes import ProviderAccount, SignInResult, email_or_none
from application.ports import UnitOfWork, VerifiedIdentity
from application.transactions import commit_and_dispatch, send
from domain.commands import SendNotification, TrackEvent
from domain.errors import Conflict, DomainError, InvalidTransition, NotFound, Unauthorized
from domain.evidence import EvidenceDraft
from domain.identity import Identity, PendingLink, check_unlink, digest


class Linking(SignInFunnel):
    """The customer's linked identities, and how they change."""

    async def confirm_link(self, customer_id: str, link_token: str) -> Identity:
        """The owner, signed in another way, confirms a pending link."""
        now = self._clock.now()
        async with self._uow() as uow:
            pending = await uow.sign_ins.pending_links.get(digest(link_token))
            if pending is None:
                raise Unauthorized("this link request does not exist; sign in with the "
                                   "provider again")
            pending.confirm(customer_id, now)
            owner = await uow.customers.get(customer_id)
            if owner is None or not owner.email_verified:
                raise InvalidTransition("confirm your email address first, then link")
            await uow.sign_ins.pending_links.save(pending)
            # A pending link keeps an email only when the provider verified it.
            identity = Identity(customer_id, pending.provider, pending.subject,
                                pending.email or None, bool(pending.email), now)
            await self._add_link(uow, identity, via="confirmed_pending_link")
            await uow.sign_ins.events.add("identity_linked", pending.provider,
                                          at=epoch_of(self._clock),
                                          anon_id=self._anon(customer_id))
            await commit_and_dispatch(uow, self._queue)
        return identity

    async def _offer_link(self, customer_id: str, verified: VerifiedIdentity) -> SignInResult:
        """The provider account the customer signed in with is shown to them, and linked
        only once they confirm that it is the one they meant (a browser can be signed in
        there as someone else: a shared computer, a family member)."""
        name = verified.provider.title()
        account = ProviderAccount.of(verified)
        async with self._uow() as uow:
            existing = await uow.customers.identities.by_subject(verified.provider,
                                                                 verified.subject)
            if existing is not None and existing.customer_id == customer_id:
                return SignInResult("linked", f"This {name} account ({account.display}) is "
                                    "already linked to your account.", customer_id=customer_id,
                                    account=account)
            if existing is not None:
                raise Conflict(
                    f"this {name} account ({account.display}) is linked to another of our "
                    "accounts: sign in with it and merge the two accounts instead")
            token = secrets.token_urlsafe(32)
            email = email_or_none(verified.email) if verified.email_verified else None
            await uow.sign_ins.pending_links.add(PendingLink(
                digest(token), customer_id, verified.provider, verified.subject, email or "",
                self._clock.now()))
            await commit_and_dispatch(uow, self._queue)
        return SignInResult(
            "link_pending",
            f"Is {account.display} the {name} account you want to link? Nothing is linked "
            "until you confirm: send this link token to POST /v1/me/identities/confirm within "
            f"30 minutes. If it is not the account you meant, do not confirm: link again and "
            f"sign in to {name} with the right one.",
            customer_id=customer_id, link_token=token, account=account)

    async def _add_link(self, uow: UnitOfWork, identity: Identity, via: str) -> None:
        existing = await uow.customers.identities.by_subject(identity.provider, identity.subject)
        if existing is not None and existing.customer_id != identity.customer_id:
            raise Conflict(
                f"this {identity.provider} account is linked to another of our accounts: sign "
                "in with it and merge the two accounts instead")
        if existing is None and not await uow.customers.identities.add(identity):
            raise Conflict("this identity was linked at the same moment; try again")
        await uow.evidence.append(EvidenceDraft(
            source="auth", kind="identity.linked", subject=f"customer:{identity.customer_id}",
            context={"via": via}, payload={"provider": identity.provider}))
        await send(uow, TrackEvent(identity.customer_id, "Identity Linked",
                                   {"provider": identity.provider}))
        # A new way into the account: its owner hears of it, in case it was not them.
        await send(uow, SendNotification("new_provider_sign_in", {"provider": identity.provider},
                                         customer_id=identity.customer_id))

    async def identities(self, customer_id: str) -> list[Identity]:
        async with self._uow(read_only=True) as uow:
            return await uow.customers.identities.of_customer(customer_id)

    async def unlink(self, customer_id: str, provider: str) -> None:
        async with self._uow() as uow:
            customer = await uow.customers.get(customer_id)
            linked = await uow.customers.identities.of_customer(customer_id)
            target = next((i for i in linked if i.provider == provider), None)
            if customer is None or target is None:
                raise NotFound(f"{provider} is not linked to your account")
            check_unlink(target, linked, customer.has_password)
            await uow.customers.identities.remove(target.provider, target.subject)
            await uow.evidence.append(EvidenceDraft(
                source="auth", kind="identity.unlinked", subject=f"customer:{customer_id}",
                context={}, payload={"provider": provider}))
            await uow.sign_ins.events.add("identity_unlinked", provider, at=epoch_of(self._clock),
                                      anon_id=self._anon(customer_id))
            await send(uow, TrackEvent(customer_id, "Identity Unlinked", {"provider": provider}))
            await commit_and_dispatch(uow, self._queue)

    async def merge(self, customer_id: str, other_access_token: str) -> dict[str, Any]:
        """Fold another account the customer also proved to own (by its own valid access
        token) into this one: orders, consents and identities move; the other is closed."""
        self._sessions.require_recent(other_access_token)
        other = await self._sessions.authenticate(other_access_token)
        if other.id == customer_id:
            raise DomainError("these are the same account")
        async with self._uow() as uow:
            for locked in sorted((customer_id, other.id)):  # one order: no deadlock
                await uow.customers.lock(locked)
            if await uow.customers.get(customer_id) is None or \
                    await uow.customers.get(other.id) is None:
                raise Conflict("one of the accounts was just closed or merged; sign in again")
            this_real = await uow.customers.real_names.of_customer(customer_id)
            other_real = await uow.customers.real_names.of_customer(other.id)
            if this_real and other_real and this_real["di_index"] != other_real["di_index"]:
                raise Conflict("these accounts belong to two different verified people")
            if other_real and not this_real and self._cipher is not None:
                # The CI is sealed bound to its owner's id: re-seal it for the account it
                # moves to, or it could never be opened (nor re-keyed) there.
                ci = self._cipher.open(other_real["ci_ciphertext"], other.id)
                sealed = self._cipher.seal(ci, context=customer_id)
                await uow.customers.real_names.rekey(other.id, sealed,
                                                     self._cipher.key_id_of(sealed))
            moved = await uow.privacy.merge(other.id, customer_id)
            if other.identity_verified:
                # The verification (real-name or checked documents) came along with it.
                await uow.customers.set_identity_verified(customer_id, True)
            await uow.evidence.append(EvidenceDraft(
                source="auth", kind="account.merged", subject=f"customer:{customer_id}",
                context={"merged_from": other.id}, payload={"moved": moved}))
            await send(uow, TrackEvent(customer_id, "Accounts Merged"))
            await commit_and_dispatch(uow, self._queue)
        return moved
