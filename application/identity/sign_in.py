"""Signing in with an external provider: the start (a flow kept server-side, bound to the
browser) and the callback, which signs in, signs up or offers a link, never letting an
unverified email take an account over."""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping

from application.identity.linking import Linking
from application.identity.outcomes import ProviderAccount, SignInResult, SignInStart, email_or_none
from application.ports import (
    AuthorizationRequest,
    CallbackParams,
    IdentityProvider,
    UnitOfWork,
    VerifiedIdentity,
)
from application.throttling import PROVIDER_START
from application.transactions import commit_and_dispatch, new_id, send
from domain.commands import SendNotification
from domain.customers import Customer, placeholder_email
from domain.errors import (
    Conflict,
    InvalidTransition,
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
    SessionStatus,
    browser_cookie_name,
    digest,
    pkce_challenge,
    ways_in,
)

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


class SignIn(Linking):
    """Sign-in with the configured providers; linking and the funnel come from its bases."""

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
            await uow.sign_ins.flows.add(flow)
            await self._event(uow, "link_started" if customer_id else "login_started", flow,
                              customer_id)
            await commit_and_dispatch(uow, self._queue)
        return SignInStart(url, browser_cookie_name(state), browser_secret)

    async def _check_can_link(self, customer_id: str) -> None:
        """Only an account whose owner proved the mailbox links providers: otherwise someone
        who registered another person's address first could plant a way into the account
        that survives the real owner taking it back."""
        async with self._uow(read_only=True) as uow:
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

    async def callback(self, provider: str, params: Mapping[str, str],
                       cookies: Mapping[str, str] | None = None) -> SignInResult:
        idp = self._provider(provider)
        state = params.get("state", "")
        async with self._uow() as uow:
            flow = await uow.sign_ins.flows.take(digest(state)) if state else None
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
        async with self._uow(read_only=True) as uow:
            session = await uow.sign_ins.sessions.get(flow.session_id)
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
            linked = await uow.customers.identities.by_subject(identity.provider, identity.subject)
            if linked is not None:
                customer = await uow.customers.get(linked.customer_id)
                if customer is None:
                    raise Unauthorized("this account no longer exists")
                tokens = await self._sessions.open(uow, customer)
                await self._event(uow, "login_succeeded", flow, customer.id)
                await commit_and_dispatch(uow, self._queue)
                return SignInResult("signed_in", "Signed in.", customer.id, tokens=tokens)
            email = email_or_none(identity.email)
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
            await uow.customers.identities.add(Identity(
                customer.id, identity.provider, identity.subject, email,
                identity.email_verified, now))
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
        linked = await uow.customers.identities.of_customer(owner.id)
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
        await uow.sign_ins.pending_links.add(PendingLink(
            digest(token), owner.id, identity.provider, identity.subject,
            email_or_none(identity.email) or "", self._clock.now()))
        # The account's owner is told by email: the link waits for them to sign in and confirm.
        await send(uow, SendNotification("link_confirmation", {"provider": identity.provider},
                                         customer_id=owner.id))
        await commit_and_dispatch(uow, self._queue)
        return SignInResult(
            "link_pending",
            f"An account already uses this email. To add {identity.provider.title()} to it, "
            "sign in the way you usually do, then confirm with this link token within 30 "
            "minutes. Nothing was linked yet.",
            link_token=token, ways_in=ways, account=ProviderAccount.of(identity))


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
