"""Local accounts: sign-up, password login, and the signed-in customer."""

from __future__ import annotations

from application.bus import publish
from application.identity import SessionService, TokenPair
from application.ports import Clock, PasswordHasher, TaskQueue, TokenIssuer, UnitOfWorkFactory
from application.throttling import (
    EMAILED_LINK,
    PASSWORD_RESET,
    REGISTRATION,
    SIGN_IN,
    Throttle,
    unlimited,
)
from application.transactions import commit_and_dispatch, new_id, send
from domain.commands import SendNotification
from domain.customers import (
    Customer,
    Role,
    check_password_policy,
    jurisdiction_of,
    normalize_email,
)
from domain.errors import AlreadyExists, DomainError, NotFound, Unauthorized
from domain.evidence import EvidenceDraft
from domain.identity import binding_of

VERIFY_EMAIL_LIFETIME = 24 * 3600
RESET_LIFETIME = 30 * 60


class Accounts:
    """The mall's own accounts, also the fallback when every provider fails: password
    sign-in, email verification, and password reset by an emailed link."""

    def __init__(
        self, uow: UnitOfWorkFactory, hasher: PasswordHasher, tokens: TokenIssuer,
        clock: Clock, queue: TaskQueue, sessions: SessionService, base_url: str,
        throttle: Throttle | None = None,
    ) -> None:
        self._uow, self._hasher, self._tokens = uow, hasher, tokens
        self._clock, self._queue, self._sessions = clock, queue, sessions
        self._base = base_url.rstrip("/")
        self._throttle = throttle or unlimited()
        # Verifying against a throwaway hash keeps a login for an unknown email as slow as one
        # for a known email, so response times do not reveal who has an account.
        self._timing_decoy: str | None = None

    async def register(self, email: str, password: str, role: Role = Role.CUSTOMER,
                       country: str | None = None, *, client: str | None = None) -> Customer:
        """`client`: the address the request came from (None: an operator's command)."""
        email = normalize_email(email)
        check_password_policy(password)
        await self._throttle.attempt(REGISTRATION, account=email, address=client)
        password_hash = await self._hasher.hash(password)
        taken = AlreadyExists("an account with this email exists already: sign in, or ask "
                              "for a password reset link if you forgot the password")
        async with self._uow() as uow:
            customer = Customer.register(
                customer_id=new_id("cus"), email=email, password_hash=password_hash,
                now=self._clock.now(), role=role,
            )
            customer.jurisdiction = jurisdiction_of(country)
            if not await uow.customers.add(customer):
                raise taken
            await uow.evidence.append(EvidenceDraft(
                source="storefront", kind="account.registered",
                subject=f"customer:{customer.id}", context={"role": role.value},
                payload={"customer_id": customer.id, "jurisdiction": customer.jurisdiction},
            ))
            await publish(uow, customer.events)
            await uow.sign_ins.events.add("signed_up", "password", at=self._clock.now().timestamp())
            await send(uow, SendNotification("verify_email", customer_id=customer.id,
                                             mint="verify_email"))
            await commit_and_dispatch(uow, self._queue)
        return customer

    async def login(self, email: str, password: str, *, client: str | None = None) -> TokenPair:
        """Every try counts against the client's address and the account, known or not
        (so a refusal says nothing about who has an account); a success forgets the
        account's failures. Once either limit is reached even the right password waits."""
        refused = Unauthorized("email or password is wrong; try again, or ask for a password "
                               "reset link (POST /v1/auth/password/forgot)")
        try:
            email = normalize_email(email)
        except Exception as exc:
            await self._throttle.attempt(SIGN_IN, address=client)
            raise refused from exc
        await self._throttle.attempt(SIGN_IN, account=email, address=client)
        async with self._uow(read_only=True) as uow:
            customer = await uow.customers.by_email(email)
        if customer is None or not customer.has_password:
            if self._timing_decoy is None:
                self._timing_decoy = await self._hasher.hash(new_id("decoy"))
            await self._hasher.verify(self._timing_decoy, password)
            await self._funnel("login_failed", reason="wrong_credentials")
            raise refused
        if not await self._hasher.verify(customer.password_hash, password):
            async with self._uow() as uow:
                # A fraud signal: a run of failures before a payment raises its risk.
                await uow.customers.record_login_failure(customer.id, self._clock.now())
                await uow.commit()
            await self._funnel("login_failed", reason="wrong_credentials")
            raise refused
        async with self._uow() as uow:
            pair = await self._sessions.open(uow, customer)
            await uow.sign_ins.events.add("login_succeeded", "password",
                                      at=self._clock.now().timestamp())
            await commit_and_dispatch(uow, self._queue)
        await self._throttle.succeeded(SIGN_IN, account=email)
        return pair

    async def _funnel(self, name: str, reason: str = "") -> None:
        async with self._uow() as uow:
            await uow.sign_ins.events.add(name, "password", reason=reason,
                                      at=self._clock.now().timestamp())
            await uow.commit()

    async def authenticate(self, token: str) -> Customer:
        return await self._sessions.authenticate(token)

    # --- links sent by email (minted when the message is sent, never stored) ---------------

    def mint(self, purpose: str, customer: Customer) -> dict[str, str]:
        """The parameters of an emailed link: a signed single-purpose token bound to the
        state it changes, so it works once."""
        if purpose == "verify_email":
            token = self._tokens.purpose_token(purpose, customer.id, _address_state(customer),
                                               VERIFY_EMAIL_LIFETIME)
            return {"link": f"{self._base}/v1/auth/email/verify?token={token}"}
        if purpose == "password_reset":
            token = self._tokens.purpose_token(purpose, customer.id,
                                               customer.password_hash or "no-password",
                                               RESET_LIFETIME)
            return {"link": f"{self._base}/v1/auth/password/reset?token={token}"}
        raise DomainError(f"no emailed link for '{purpose}'")

    async def resend_verification(self, customer: Customer, *,
                                  client: str | None = None) -> bool:
        """Send the verification link again; False when the address is verified already."""
        if customer.email_verified or customer.email.endswith("@users.invalid"):
            return False
        await self._throttle.attempt(EMAILED_LINK, account=customer.email, address=client)
        async with self._uow() as uow:
            await send(uow, SendNotification("verify_email", customer_id=customer.id,
                                             mint="verify_email"))
            await commit_and_dispatch(uow, self._queue)
        return True

    async def verify_email(self, token: str) -> Customer:
        customer_id, binding = self._tokens.read_purpose_token(token, "verify_email")
        async with self._uow() as uow:
            customer = await uow.customers.get(customer_id)
            if customer is None or binding != binding_of(_address_state(customer)):
                raise Unauthorized("this verification link was used already or is no longer "
                                   "valid; ask for a new one")
            customer.email_verified = True
            await uow.customers.save(customer)
            await uow.commit()
        return customer

    async def forgot_password(self, email: str, *, client: str | None = None) -> None:
        """Send a reset link if the address has an account; the answer never says which
        (a known and an unknown address are limited alike)."""
        try:
            email = normalize_email(email)
        except DomainError:
            await self._throttle.attempt(EMAILED_LINK, address=client)
            return
        await self._throttle.attempt(EMAILED_LINK, account=email, address=client)
        async with self._uow() as uow:
            customer = await uow.customers.by_email(email)
            if customer is None or email.endswith("@users.invalid"):
                return
            await send(uow, SendNotification("password_reset", customer_id=customer.id,
                                             mint="password_reset"))
            await commit_and_dispatch(uow, self._queue)

    async def reset_password(self, token: str, new_password: str, *,
                             client: str | None = None) -> None:
        """Set a new password from an emailed link; every session ends, and sign-in
        failures counted against the account are forgotten."""
        check_password_policy(new_password)
        await self._throttle.attempt(PASSWORD_RESET, address=client)
        customer_id, binding = self._tokens.read_purpose_token(token, "password_reset")
        await self._throttle.attempt(PASSWORD_RESET, account=customer_id)
        password_hash = await self._hasher.hash(new_password)
        async with self._uow() as uow:
            customer = await uow.customers.get(customer_id)
            if customer is None or binding != binding_of(customer.password_hash or "no-password"):
                raise Unauthorized("this reset link was used already or has expired; ask for "
                                   "a new one")
            unproven = not customer.email_verified
            customer.password_hash = password_hash
            customer.email_verified = True  # the link reached the inbox
            await uow.customers.save(customer)
            revoked = await uow.sign_ins.sessions.revoke_customer(customer.id)
            removed = []
            if unproven:
                # Whoever used the account before the mailbox was proven may have left a way
                # in; the owner starts clean.
                for identity in await uow.customers.identities.of_customer(customer.id):
                    await uow.customers.identities.remove(identity.provider, identity.subject)
                    removed.append(identity.provider)
            await uow.evidence.append(EvidenceDraft(
                source="auth", kind="account.password_reset", subject=f"customer:{customer.id}",
                context={}, payload={"sessions_revoked": revoked,
                                     "identities_removed": removed}))
            await uow.commit()
        # The owner proved the mailbox: a guesser's failures no longer hold the account.
        await self._throttle.succeeded(SIGN_IN, account=customer.email)

    async def me(self, customer_id: str) -> Customer:
        async with self._uow(read_only=True) as uow:
            customer = await uow.customers.get(customer_id)
        if customer is None:
            raise NotFound("account not found")
        return customer

    async def mark_identity_verified(self, customer_id: str, admin_id: str) -> None:
        """An operator checked the customer's identity documents (KYC)."""
        async with self._uow() as uow:
            if await uow.customers.get(customer_id) is None:
                raise NotFound(f"customer {customer_id} not found")
            await uow.customers.set_identity_verified(customer_id, True)
            await uow.evidence.append(EvidenceDraft(
                source="admin", kind="kyc.verified", subject=f"customer:{customer_id}",
                context={"admin_id": admin_id}, payload={"method": "manual"},
            ))
            await uow.commit()

    async def consents(self, customer_id: str) -> dict[str, bool]:
        async with self._uow(read_only=True) as uow:
            return await uow.customers.consents.of_customer(customer_id)

    async def set_consents(self, customer_id: str, changes: dict[str, bool], *,
                           source: str = "storefront", wording: str = "") -> dict[str, bool]:
        """Grant or withdraw; the evidence keeps when, where (`source`) and, for an opt-in,
        the `wording` the customer agreed to."""
        async with self._uow() as uow:
            for purpose, granted in changes.items():
                await uow.customers.consents.set(customer_id, purpose, granted)
            await uow.evidence.append(EvidenceDraft(
                source="storefront", kind="consent.changed", subject=f"customer:{customer_id}",
                context={"source": source},
                payload={"changes": changes, **({"wording": wording} if wording else {})}))
            current = await uow.customers.consents.of_customer(customer_id)
            await uow.commit()
        return current


def _address_state(customer: Customer) -> str:
    """What a verification link is bound to: the address and whether it is verified yet, so
    the link works once, and not at all for an address the account no longer has."""
    return f"{customer.email}|{'verified' if customer.email_verified else 'unverified'}"
