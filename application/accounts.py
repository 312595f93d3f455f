"""Local accounts: sign-up, password login, and the signed-in customer."""

from __future__ import annotations

from dataclasses import dataclass

from application.ports import Clock, PasswordHasher, TaskQueue, TokenIssuer, UnitOfWorkFactory
from application.units import commit_and_dispatch, new_id, react
from domain.customers import Customer, Role, check_password_policy, normalize_email
from domain.errors import Conflict, NotFound, Unauthorized
from domain.evidence import EvidenceDraft


@dataclass(frozen=True)
class AccessToken:
    access_token: str
    expires_in: int
    token_type: str = "bearer"  # noqa: S105 - the OAuth token type


class Accounts:
    def __init__(
        self, uow: UnitOfWorkFactory, hasher: PasswordHasher, tokens: TokenIssuer,
        clock: Clock, queue: TaskQueue,
    ) -> None:
        self._uow, self._hasher, self._tokens = uow, hasher, tokens
        self._clock, self._queue = clock, queue
        # Verifying against a throwaway hash keeps a login for an unknown email as slow as one
        # for a known email, so response times do not reveal who has an account.
        self._timing_decoy = hasher.hash(new_id("decoy"))

    async def register(self, email: str, password: str, role: Role = Role.CUSTOMER) -> Customer:
        email = normalize_email(email)
        check_password_policy(password)
        password_hash = self._hasher.hash(password)
        taken = Conflict("an account with this email exists already; sign in instead")
        async with self._uow() as uow:
            customer = Customer.register(
                customer_id=new_id("cus"), email=email, password_hash=password_hash,
                now=self._clock.now(), role=role,
            )
            if not await uow.customers.add(customer):
                raise taken
            await uow.evidence.append(EvidenceDraft(
                source="storefront", kind="account.registered",
                subject=f"customer:{customer.id}", context={"role": role.value},
                payload={"customer_id": customer.id},
            ))
            await react(uow, customer.events)
            await commit_and_dispatch(uow, self._queue)
        return customer

    async def login(self, email: str, password: str) -> AccessToken:
        refused = Unauthorized("email or password is wrong; try again or reset your password")
        try:
            email = normalize_email(email)
        except Exception as exc:
            raise refused from exc
        async with self._uow() as uow:
            customer = await uow.customers.by_email(email)
        if customer is None:
            self._hasher.verify(self._timing_decoy, password)
            raise refused
        if not self._hasher.verify(customer.password_hash, password):
            async with self._uow() as uow:
                # A fraud signal: a run of failures before a payment raises its risk.
                await uow.customers.record_login_failure(customer.id, self._clock.now())
                await uow.commit()
            raise refused
        token, lifetime = self._tokens.issue(customer)
        return AccessToken(token, lifetime)

    async def authenticate(self, token: str) -> Customer:
        customer_id = self._tokens.subject(token)
        async with self._uow() as uow:
            customer = await uow.customers.get(customer_id)
        if customer is None:
            raise Unauthorized("this account no longer exists; sign in again")
        return customer

    async def me(self, customer_id: str) -> Customer:
        async with self._uow() as uow:
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
