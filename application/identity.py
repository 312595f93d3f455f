"""Signing in with external providers, linking them to one customer without ever letting an
unverified email take an account over, sessions with rotating refresh tokens, and the
sign-in funnel kept for attribution without personal data."""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from application.ports import (
    AuthorizationRequest,
    CallbackParams,
    Clock,
    DataCipher,
    IdentityProvider,
    TaskQueue,
    TokenIssuer,
    UnitOfWork,
    UnitOfWorkFactory,
    VerifiedIdentity,
)
from application.throttling import PROVIDER_START, Throttle, unlimited
from application.transactions import commit_and_dispatch, new_id, send
from domain.commands import TrackEvent
from domain.customers import Customer, normalize_email, placeholder_email
from domain.errors import (
    Conflict,
    DomainError,
    InvalidTransition,
    NotFound,
    ProviderUnavailable,
    SignInRefused,
    Unauthorized,
)
from domain.evidence import EvidenceDraft
from domain.identity import (
    AuthFlow,
    FlowPurpose,
    Identity,
    PendingLink,
    RefreshReused,
    Session,
    SessionStatus,
    browser_cookie_name,
    check_unlink,
    digest,
    pkce_challenge,
    ways_in,
)
from domain.privacy import pseudonym

_TAG = re.compile(r"[^a-z0-9_.-]")

# What a customer reads when a provider answers with an error instead of a code.
PROVIDER_ERRORS = {
    "access_denied": "You cancelled the sign-in at {provider}, so you are not signed in.",
    "temporarily_unavailable": "{provider} cannot sign you in right now.",
    "server_error": "{provider} had a problem signing you in.",
    "login_required": "{provider} needs you to sign in there first.",
    "consent_required": "{provider} needs your consent to share your email with us.",
}


def campaign_tag(value: str | None) -> str:
    """A channel or campaign label as we keep it: short, lowercase, no free text."""
    return _TAG.sub("", (value or "").strip().lower())[:64]


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    expires_in: int
    refresh_token: str
    refresh_expires_in: int
    token_type: str = "bearer"  # noqa: S105 - the OAuth token type


@dataclass(frozen=True)
class SignInStart:
    authorization_url: str
    # Set as a cookie (named by domain.identity.browser_cookie_name(state)) in the browser
    # that goes to the provider; the callback must bring it back.
    cookie_name: str
    browser_secret: str


@dataclass(frozen=True)
class ProviderAccount:
    """The provider's account a sign-in came back with, as its owner recognises it."""

    provider: str
    subject: str
    email: str | None
    email_verified: bool

    @property
    def display(self) -> str:
        if self.email:
            return self.email if self.email_verified else f"{self.email} (address not verified)"
        return f"the account with id {self.subject[:64]}"

    @classmethod
    def of(cls, identity: VerifiedIdentity) -> ProviderAccount:
        return cls(identity.provider, identity.subject, _normalized(identity.email),
                   identity.email_verified)


@dataclass(frozen=True)
class SignInResult:
    status: str  # "signed_in" | "linked" | "link_pending" | "email_in_use"
    message: str
    customer_id: str | None = None  # set on a link: the signed-in customer's own
    created: bool = False
    tokens: TokenPair | None = None
    link_token: str | None = None
    ways_in: list[str] = field(default_factory=list)
    account: ProviderAccount | None = None  # what a pending link would add


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
        await uow.sessions.add(session)
        access, lifetime = self._tokens.issue(customer, session.id)
        return TokenPair(access, lifetime, refresh,
                         int(self._refresh_lifetime.total_seconds()))

    async def refresh(self, refresh_token: str) -> TokenPair:
        async with self._uow() as uow:
            session = await uow.sessions.by_refresh(digest(refresh_token))
            if session is None:
                raise Unauthorized("this refresh token is not valid; sign in again")
            try:
                session.check_refresh(self._clock.now())
                customer = await uow.customers.get(session.customer_id)
                if customer is None:
                    raise Unauthorized("this account no longer exists")
                pair = await self.open(uow, customer, session.family_id)
                successor = await uow.sessions.by_refresh(digest(pair.refresh_token))
                assert successor is not None
                if not await uow.sessions.rotate(session.id, successor.id):
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
            await uow.sessions.revoke_family(session.family_id)
            await uow.evidence.append(EvidenceDraft(
                source="auth", kind="session.refresh_reused",
                subject=f"customer:{session.customer_id}",
                context={"family_id": session.family_id}, payload={"revoked": "family"}))
            await uow.commit()

    async def logout(self, access_token: str, everywhere: bool = False) -> int:
        claims = self._tokens.claims(access_token)
        async with self._uow() as uow:
            if everywhere:
                revoked = await uow.sessions.revoke_customer(str(claims["sub"]))
            else:
                session = await uow.sessions.get(str(claims.get("sid", "")))
                revoked = await uow.sessions.revoke_family(session.family_id) if session else 0
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
        async with self._uow() as uow:
            if claims.get("sid"):
                session = await uow.sessions.get(str(claims["sid"]))
                if session is None or session.status == SessionStatus.REVOKED:
                    raise Unauthorized("you signed out of this session; sign in again")
            customer = await uow.customers.get(str(claims["sub"]))
        if customer is None:
            raise Unauthorized("this account no longer exists; sign in again")
        return customer


class SignIn:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        providers: Mapping[str, IdentityProvider],
        sessions: SessionService,
        clock: Clock,
        queue: TaskQueue,
        pseudonym_key: bytes,
        base_url: str,
        cipher: DataCipher | None = None,
        throttle: Throttle | None = None,
    ) -> None:
        self._uow, self._providers, self._sessions = uow, providers, sessions
        self._clock, self._queue, self._key = clock, queue, pseudonym_key
        self._base = base_url.rstrip("/")
        self._cipher = cipher  # re-seals a merged-in CI for its new owner
        self._throttle = throttle or unlimited()

    def _provider(self, name: str) -> IdentityProvider:
        provider = self._providers.get(name)
        if provider is None:
            raise NotFound(f"no sign-in provider '{name}'; choose one of "
                           f"{', '.join(sorted(self._providers)) or 'none'}, or your password")
        return provider

    def redirect_uri(self, provider: str) -> str:
        return f"{self._base}/v1/auth/{provider}/callback"

    async def other_ways(self, provider: str) -> list[str]:
        """Ways in that still work when `provider` does not: the other providers that are
        up, the password, and an email recovery link."""
        up = [name for name, idp in self._providers.items()
              if name != provider and await idp.available()]
        return ways_in(has_password=True, providers=up, email_recovery=True)

    # --- starting ---------------------------------------------------------------------------

    async def start(self, provider: str, *, customer_id: str | None = None,
                    session_id: str | None = None, channel: str = "", campaign: str = "",
                    login_hint: str | None = None, client: str | None = None) -> SignInStart:
        """The provider URL to send the customer to; the flow is kept server-side, bound to
        the browser by a secret it keeps in a cookie. Starts are limited per client address
        (`client`) and, for links, per customer: each one stores a flow."""
        idp = self._provider(provider)
        await self._throttle.attempt(PROVIDER_START, account=customer_id, address=client)
        channel, campaign = campaign_tag(channel), campaign_tag(campaign)
        if customer_id is not None:
            await self._check_can_link(customer_id)
        if not await idp.available():
            await self._record("login_failed", provider, channel, campaign, "",
                               reason="provider_unavailable")
            raise self._unavailable(idp, await self.other_ways(provider))
        state, nonce = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        verifier, browser_secret = secrets.token_urlsafe(64), secrets.token_urlsafe(32)
        redirect_uri = self.redirect_uri(provider)
        try:
            url = await idp.authorization_url(AuthorizationRequest(
                state=state, nonce=nonce, code_challenge=pkce_challenge(verifier),
                redirect_uri=redirect_uri, login_hint=login_hint,
                # A link must name the account the customer chooses now, never whichever
                # one happens to be signed in at the provider in this browser.
                prompt="login" if customer_id else None))
        except ProviderUnavailable:
            await self._record("login_failed", provider, channel, campaign, "",
                               reason="provider_unavailable")
            raise self._unavailable(idp, await self.other_ways(provider)) from None
        flow = AuthFlow(
            state_hash=digest(state), provider=provider,
            purpose=FlowPurpose.LINK if customer_id else FlowPurpose.LOGIN, nonce=nonce,
            code_verifier=verifier, redirect_uri=redirect_uri, created_at=self._clock.now(),
            customer_id=customer_id, channel=channel, campaign=campaign,
            browser_hash=digest(browser_secret), session_id=session_id)
        async with self._uow() as uow:
            await uow.flows.add(flow)
            await self._event(uow, "link_started" if customer_id else "login_started", flow,
                              customer_id)
            await commit_and_dispatch(uow, self._queue)
        return SignInStart(url, browser_cookie_name(state), browser_secret)

    async def _check_can_link(self, customer_id: str) -> None:
        """Only an account whose owner proved the mailbox links providers: otherwise someone
        who registered another person's address first could plant a way into the account
        that survives the real owner taking it back."""
        async with self._uow() as uow:
            customer = await uow.customers.get(customer_id)
        if customer is None or not customer.email_verified:
            raise InvalidTransition(
                "confirm your email address first (use the link we emailed you, or ask for it "
                "again: POST /v1/auth/email/verification), then link sign-in providers")

    @staticmethod
    def _unavailable(idp: IdentityProvider, ways: list[str]) -> ProviderUnavailable:
        """Before the customer left: we kept them here, and say why and what else works."""
        fault = idp.fault()
        why = (f"Signing in with {idp.name.title()} does not work right now ({fault})"
               if fault else f"{idp.name.title()} is not answering right now")
        unavailable = ProviderUnavailable(
            f"{why}, so we did not send you there. {_still_open(ways)}", request_sent=False,
            alternatives=ways)
        # A setting must be fixed first: trying this provider again will not help until then.
        unavailable.retryable = fault is None
        return unavailable

    # --- the callback -----------------------------------------------------------------------

    async def callback(self, provider: str, params: Mapping[str, str],
                       cookies: Mapping[str, str] | None = None) -> SignInResult:
        idp = self._provider(provider)
        state = params.get("state", "")
        async with self._uow() as uow:
            flow = await uow.flows.take(digest(state)) if state else None
            await uow.commit()
        if flow is None:
            await self._record("login_failed", provider, "", "", "", reason="state_mismatch")
            raise SignInRefused(
                "This sign-in was not started here, or it expired: start again from the "
                "sign-in page.", reason="state_mismatch",
                ways_in=await self.other_ways(provider))
        try:
            # take() marked it used for good; `used` says whether it was before (a replay).
            flow.redeem(provider, self._clock.now(),
                        (cookies or {}).get(browser_cookie_name(state)))
            if params.get("error"):
                error = params["error"]
                message = PROVIDER_ERRORS.get(error, "{provider} did not sign you in.")
                raise SignInRefused(message.format(provider=provider.title()),
                                    reason=error if error in PROVIDER_ERRORS else "provider_error")
            if not params.get("code"):
                raise SignInRefused("The provider sent no sign-in code: start again.",
                                    reason="code_missing")
            identity = await idp.exchange_code(
                CallbackParams(params["code"], params.get("iss")),
                code_verifier=flow.code_verifier, nonce=flow.nonce,
                redirect_uri=flow.redirect_uri)
        except (SignInRefused, Unauthorized) as exc:
            reason = getattr(exc, "reason", "refused")
            await self._record("login_failed", provider, flow.channel, flow.campaign,
                               flow.state_hash, reason=reason)
            raise SignInRefused(
                f"{_sentence(exc.detail)} Nothing was changed in your account.", reason=reason,
                ways_in=await self.other_ways(provider)) from exc
        except ProviderUnavailable:
            await self._record("login_failed", provider, flow.channel, flow.campaign,
                               flow.state_hash, reason="provider_unavailable")
            raise self._lost_on_the_way(idp, await self.other_ways(provider)) from None
        if flow.purpose == FlowPurpose.LINK:
            assert flow.customer_id is not None
            await self._check_session_live(flow, provider)
            return await self._offer_link(flow.customer_id, identity)
        return await self._sign_in(identity, flow)

    @staticmethod
    def _lost_on_the_way(idp: IdentityProvider, ways: list[str]) -> ProviderUnavailable:
        """After the customer came back: they were at the provider, which failed us since."""
        fault = idp.fault()
        why = (f"We could not finish signing you in with {idp.name.title()} ({fault})"
               if fault else
               f"{idp.name.title()} stopped answering before we could finish signing you in")
        unavailable = ProviderUnavailable(
            f"{why}. Nothing was changed in your account. {_still_open(ways)}",
            alternatives=ways)
        unavailable.retryable = fault is None
        return unavailable

    async def _check_session_live(self, flow: AuthFlow, provider: str) -> None:
        """A link asked for by a session that has since been signed out (say, after a theft
        was noticed) is not completed."""
        if flow.session_id is None:
            return
        async with self._uow() as uow:
            session = await uow.sessions.get(flow.session_id)
        if session is None or session.status == SessionStatus.REVOKED:
            await self._record("login_failed", provider, flow.channel, flow.campaign,
                               flow.state_hash, reason="session_ended")
            raise SignInRefused("The session that asked for this link has been signed out, "
                                "so nothing was linked. Sign in and link again.",
                                reason="session_ended",
                                ways_in=await self.other_ways(provider))

    async def _sign_in(self, identity: VerifiedIdentity, flow: AuthFlow) -> SignInResult:
        now = self._clock.now()
        async with self._uow() as uow:
            linked = await uow.identities.by_subject(identity.provider, identity.subject)
            if linked is not None:
                customer = await uow.customers.get(linked.customer_id)
                if customer is None:
                    raise Unauthorized("this account no longer exists")
                tokens = await self._sessions.open(uow, customer)
                await self._event(uow, "login_succeeded", flow, customer.id)
                await commit_and_dispatch(uow, self._queue)
                return SignInResult("signed_in", "Signed in.", customer.id, tokens=tokens)
            email = _normalized(identity.email)
            owner = await uow.customers.by_email(email) if email else None
            if owner is not None:
                return await self._email_in_use(uow, owner, identity, flow)
            customer = Customer.register(
                customer_id=new_id("cus"),
                email=email if email and identity.email_verified
                else placeholder_email(identity.provider, identity.subject),
                password_hash="", now=now)
            customer.email_verified = bool(email and identity.email_verified)
            if not await uow.customers.add(customer):
                raise Conflict("this account was just created by another sign-in; try again")
            await uow.identities.add(Identity(customer.id, identity.provider, identity.subject,
                                              email, identity.email_verified, now))
            await uow.evidence.append(EvidenceDraft(
                source=identity.provider, kind="account.registered",
                subject=f"customer:{customer.id}", context={"method": identity.provider},
                payload={"customer_id": customer.id,
                         "email_verified": customer.email_verified}))
            tokens = await self._sessions.open(uow, customer)
            await self._event(uow, "signed_up", flow, customer.id)
            await self._event(uow, "login_succeeded", flow, customer.id)
            await commit_and_dispatch(uow, self._queue)
        return SignInResult("signed_in", "Welcome! Your account was created.", customer.id,
                            created=True, tokens=tokens)

    async def _email_in_use(self, uow: UnitOfWork, owner: Customer,
                            identity: VerifiedIdentity, flow: AuthFlow) -> SignInResult:
        """Never link by email alone: the owner must prove it is them first."""
        linked = await uow.identities.of_customer(owner.id)
        ways = ways_in(has_password=owner.has_password,
                       providers=[i.provider for i in linked], email_recovery=True)
        await self._event(uow, "login_failed", flow, reason="email_in_use")
        if not identity.email_verified or not owner.email_verified:
            # Either side did not prove the mailbox: linking could hand one person's way in
            # to another. Say which side, so no one is blamed for the other's gap.
            await commit_and_dispatch(uow, self._queue)
            name = identity.provider.title()
            why = (f"{name} did not confirm that the address is yours" if not
                   identity.email_verified else
                   "that account has not confirmed its address with us yet")
            return SignInResult(
                "email_in_use",
                f"An account already uses this email, and {why}, so we cannot link {name} "
                "to it. If the account is yours, sign in to it another way (and confirm your "
                f"email with the link we sent), then link {name} from your account.",
                ways_in=ways)
        token = secrets.token_urlsafe(32)
        await uow.pending_links.add(PendingLink(
            digest(token), owner.id, identity.provider, identity.subject,
            _normalized(identity.email) or "", self._clock.now()))
        await commit_and_dispatch(uow, self._queue)
        return SignInResult(
            "link_pending",
            f"An account already uses this email. To add {identity.provider.title()} to it, "
            "sign in the way you usually do, then confirm with this link token within 30 "
            "minutes. Nothing was linked yet.",
            link_token=token, ways_in=ways, account=ProviderAccount.of(identity))

    async def confirm_link(self, customer_id: str, link_token: str) -> Identity:
        """The owner, signed in another way, confirms a pending link."""
        now = self._clock.now()
        async with self._uow() as uow:
            pending = await uow.pending_links.get(digest(link_token))
            if pending is None:
                raise Unauthorized("this link request does not exist; sign in with the "
                                   "provider again")
            pending.confirm(customer_id, now)
            owner = await uow.customers.get(customer_id)
            if owner is None or not owner.email_verified:
                raise InvalidTransition("confirm your email address first, then link")
            await uow.pending_links.save(pending)
            # A pending link keeps an email only when the provider verified it.
            identity = Identity(customer_id, pending.provider, pending.subject,
                                pending.email or None, bool(pending.email), now)
            await self._add_link(uow, identity, via="confirmed_pending_link")
            await uow.auth_events.add("identity_linked", pending.provider, at=_epoch(self._clock),
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
            existing = await uow.identities.by_subject(verified.provider, verified.subject)
            if existing is not None and existing.customer_id == customer_id:
                return SignInResult("linked", f"This {name} account ({account.display}) is "
                                    "already linked to your account.", customer_id=customer_id,
                                    account=account)
            if existing is not None:
                raise Conflict(
                    f"this {name} account ({account.display}) is linked to another of our "
                    "accounts: sign in with it and merge the two accounts instead")
            token = secrets.token_urlsafe(32)
            email = _normalized(verified.email) if verified.email_verified else None
            await uow.pending_links.add(PendingLink(
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
        existing = await uow.identities.by_subject(identity.provider, identity.subject)
        if existing is not None and existing.customer_id != identity.customer_id:
            raise Conflict(
                f"this {identity.provider} account is linked to another of our accounts: sign "
                "in with it and merge the two accounts instead")
        if existing is None and not await uow.identities.add(identity):
            raise Conflict("this identity was linked at the same moment; try again")
        await uow.evidence.append(EvidenceDraft(
            source="auth", kind="identity.linked", subject=f"customer:{identity.customer_id}",
            context={"via": via}, payload={"provider": identity.provider}))
        await send(uow, TrackEvent(identity.customer_id, "Identity Linked",
                                   {"provider": identity.provider}))

    async def identities(self, customer_id: str) -> list[Identity]:
        async with self._uow() as uow:
            return await uow.identities.of_customer(customer_id)

    async def unlink(self, customer_id: str, provider: str) -> None:
        async with self._uow() as uow:
            customer = await uow.customers.get(customer_id)
            linked = await uow.identities.of_customer(customer_id)
            target = next((i for i in linked if i.provider == provider), None)
            if customer is None or target is None:
                raise NotFound(f"{provider} is not linked to your account")
            check_unlink(target, linked, customer.has_password)
            await uow.identities.remove(target.provider, target.subject)
            await uow.evidence.append(EvidenceDraft(
                source="auth", kind="identity.unlinked", subject=f"customer:{customer_id}",
                context={}, payload={"provider": provider}))
            await uow.auth_events.add("identity_unlinked", provider, at=_epoch(self._clock),
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
            this_real = await uow.real_names.of_customer(customer_id)
            other_real = await uow.real_names.of_customer(other.id)
            if this_real and other_real and this_real["di_index"] != other_real["di_index"]:
                raise Conflict("these accounts belong to two different verified people")
            if other_real and not this_real and self._cipher is not None:
                # The CI is sealed bound to its owner's id: re-seal it for the account it
                # moves to, or it could never be opened (nor re-keyed) there.
                ci = self._cipher.open(other_real["ci_ciphertext"], other.id)
                sealed = self._cipher.seal(ci, context=customer_id)
                await uow.real_names.rekey(other.id, sealed, self._cipher.key_id_of(sealed))
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

    # --- the funnel -------------------------------------------------------------------------

    def _anon(self, customer_id: str) -> str:
        return pseudonym(customer_id, self._key, purpose="analytics")

    async def _event(self, uow: UnitOfWork, name: str, flow: AuthFlow,
                     customer_id: str | None = None, reason: str = "") -> None:
        anon = self._anon(customer_id) if customer_id else ""
        flow_ref = pseudonym(flow.state_hash, self._key, purpose="auth-flow")
        await uow.auth_events.add(name, flow.provider, channel=flow.channel,
                                  campaign=flow.campaign, reason=reason, flow=flow_ref,
                                  anon_id=anon, at=_epoch(self._clock))
        await send(uow, TrackEvent(
            customer_id or f"flow:{flow.state_hash}", _EVENT_NAMES[name],
            {"provider": flow.provider, "channel": flow.channel, "campaign": flow.campaign,
             **({"reason": reason} if reason else {})}))

    async def _record(self, name: str, provider: str, channel: str, campaign: str,
                      state_hash: str, reason: str) -> None:
        flow = AuthFlow(state_hash or new_id("flow"), provider, FlowPurpose.LOGIN, "", "", "",
                        self._clock.now(), channel=channel, campaign=campaign)
        async with self._uow() as uow:
            await self._event(uow, name, flow, reason=reason)
            await commit_and_dispatch(uow, self._queue)

    async def report(self, start: datetime, end: datetime) -> dict[str, Any]:
        """Sign-up conversion and attribution by provider and channel: counts only."""
        if end <= start:
            raise DomainError("the end of the range must be after its start")
        async with self._uow() as uow:
            rows = await uow.auth_events.between(start.timestamp(), end.timestamp())
        groups: dict[tuple[str, str], dict[str, Any]] = {}
        for row in rows:
            group = groups.setdefault((row["provider"], row["channel"]), {
                "provider": row["provider"], "channel": row["channel"], "started": 0,
                "succeeded": 0, "failed": 0, "signed_up": 0, "linked": 0, "unlinked": 0,
                "failure_reasons": {}, "campaigns": {}})
            key = {"login_started": "started", "login_succeeded": "succeeded",
                   "login_failed": "failed", "signed_up": "signed_up",
                   "identity_linked": "linked", "identity_unlinked": "unlinked"}.get(row["name"])
            if key is None:
                continue
            group[key] += 1
            if key == "failed":
                reasons = group["failure_reasons"]
                reasons[row["reason"]] = reasons.get(row["reason"], 0) + 1
            if key == "signed_up" and row["campaign"]:
                campaigns = group["campaigns"]
                campaigns[row["campaign"]] = campaigns.get(row["campaign"], 0) + 1
        for group in groups.values():
            started = group["started"]
            group["signup_conversion"] = round(group["signed_up"] / started, 4) if started else None
            group["success_rate"] = round(group["succeeded"] / started, 4) if started else None
        return {"from": start.isoformat(), "to": end.isoformat(),
                "groups": sorted(groups.values(), key=lambda g: (g["provider"], g["channel"]))}


_EVENT_NAMES = {
    "login_started": "Login Started", "link_started": "Link Started",
    "login_succeeded": "Login Succeeded",
    "login_failed": "Login Failed", "signed_up": "Signed Up",
    "identity_linked": "Identity Linked", "identity_unlinked": "Identity Unlinked",
}


def _epoch(clock: Clock) -> float:
    return clock.now().timestamp()


def _sentence(text: str) -> str:
    """An adapter's clause as a sentence of its own, to stand before another one."""
    text = text.strip()
    if not text:
        return text
    text = text[0].upper() + text[1:]
    return text if text[-1] in ".!?" else f"{text}."


def _still_open(ways: list[str]) -> str:
    names = {"password": "your password",
             "email_recovery_link": "a recovery link sent to your email"}
    readable = [names.get(w, w.removeprefix("provider:").title()) for w in ways]
    if not readable:
        return "Please try again later."
    listed = readable[0] if len(readable) == 1 else \
        f"{', '.join(readable[:-1])} or {readable[-1]}"
    return f"You can still sign in with {listed}."


def _normalized(email: str | None) -> str | None:
    if not email:
        return None
    try:
        return normalize_email(email)
    except DomainError:
        return None
