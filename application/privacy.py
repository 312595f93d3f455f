"""Privacy by jurisdiction: erasure with an evidence certificate, export of a customer's data
(GDPR Art. 15 and 20), retention enforced per jurisdiction and record class, and Korean
real-name verification (CI/DI) kept sealed and out of everything that leaves."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from application.ordering import order_view
from application.ports import (
    Clock,
    DataCipher,
    RealNameVerifier,
    TaskQueue,
    UnitOfWork,
    UnitOfWorkFactory,
)
from application.transactions import commit_and_dispatch
from domain.customers import JURISDICTIONS, Customer
from domain.errors import Conflict, DomainError, NotFound
from domain.evidence import EvidenceDraft
from domain.orders import OrderStatus
from domain.payments import MONEY_TAKEN
from domain.privacy import pseudonym

RECORD_CLASSES = ("payment_records", "contract_records", "complaints", "access_logs")
# Orders whose money or goods are still moving: erasure waits for them.
IN_PROGRESS = frozenset({OrderStatus.PAYMENT_PROCESSING, OrderStatus.AWAITING_DEPOSIT,
                         OrderStatus.ON_HOLD, OrderStatus.PAID, OrderStatus.PARTIALLY_SHIPPED,
                         OrderStatus.SHIPPED, OrderStatus.PARTIALLY_DELIVERED,
                         OrderStatus.DISPUTED})
FINISHED_WORK_KEPT = timedelta(days=30)  # done outbox work, settled callbacks, analytics sent


@dataclass(frozen=True)
class RetentionPolicy:
    """Days each record class must be kept, for one jurisdiction."""

    jurisdiction: str
    days: Mapping[str, int]

    def until(self, record_class: str, start: datetime) -> datetime:
        return start + timedelta(days=self.days.get(record_class, 0))


def policies_from(raw: Mapping[str, Mapping[str, int]]) -> dict[str, RetentionPolicy]:
    if "default" not in raw:
        raise ValueError("retention policies need a 'default' jurisdiction")
    policies = {}
    for jurisdiction, days in raw.items():
        unknown = set(days) - set(RECORD_CLASSES)
        if unknown:
            raise ValueError(f"unknown record class(es) {sorted(unknown)} for {jurisdiction}; "
                             f"known: {', '.join(RECORD_CLASSES)}")
        policies[jurisdiction] = RetentionPolicy(jurisdiction, dict(days))
    return policies


class Privacy:
    def __init__(self, uow: UnitOfWorkFactory, clock: Clock, queue: TaskQueue,
                 pseudonym_key: bytes, policies: Mapping[str, RetentionPolicy]) -> None:
        self._uow, self._clock, self._queue = uow, clock, queue
        self._key, self._policies = pseudonym_key, policies

    def policy_of(self, jurisdiction: str) -> RetentionPolicy:
        return self._policies.get(jurisdiction) or self._policies["default"]

    async def export(self, customer_id: str) -> dict[str, Any]:
        """Everything we hold about the customer, in one machine-readable document."""
        async with self._uow() as uow:
            data = await uow.privacy.export(customer_id)
            if not data["customer"]:
                raise NotFound("account not found")
            orders = []
            before: str | None = None
            while True:
                page = await uow.orders.of_customer(customer_id, limit=200, before=before)
                for order in page:
                    orders.append(order_view(
                        order, payments=await uow.payments.of_order(order.id),
                        shipments=await uow.shipments.of_order(order.id)))
                if len(page) < 200 or page[-1].created_at is None:
                    break
                before = page[-1].created_at.isoformat()
        # Times in RFC 3339 like every other *_at of the API (the store keeps epoch seconds).
        failed = [datetime.fromtimestamp(at, UTC).isoformat()
                  for at in data.pop("login_failures", [])]
        return {"format": "mall-export/1", "generated_at": self._clock.now().isoformat(),
                **data, "failed_sign_ins_at": failed, "orders": orders}

    async def erase(self, customer_id: str, confirmation: str) -> dict[str, Any]:
        """Erase the customer's personal data everywhere, keep what a retention rule still
        requires (pseudonymized, apart), revoke every session and link, and certify it."""
        now = self._clock.now()
        subject = pseudonym(customer_id, self._key, purpose="erasure")
        async with self._uow() as uow:
            await uow.customers.lock(customer_id)
            customer = await uow.customers.get(customer_id)
            if customer is None:
                raise NotFound("account not found")
            # Typing one's own address (GET /v1/me shows it) is a confirmation no example
            # or replayed request can give for another account.
            if confirmation.strip().lower() != customer.email.lower():
                raise DomainError("to erase your account, confirm with its email address "
                                  "(as GET /v1/me shows it): this cannot be undone")
            await self._settle_open_orders(uow, customer_id)
            policy = self.policy_of(customer.jurisdiction)
            retained = await self._keep_what_the_law_requires(uow, customer, subject, policy)
            erased = await uow.privacy.erase(customer_id, subject)
            certificate = {
                "subject": subject, "jurisdiction": policy.jurisdiction,
                "requested_at": now.isoformat(), "erased": erased, "retained": retained,
                "statement": "Personal data was erased or pseudonymized; sessions, identity "
                             "links and real-name (CI/DI) records were removed.",
            }
            pending = await uow.evidence.append(EvidenceDraft(
                source="privacy", kind="erasure.certificate", subject=f"erasure:{subject}",
                context={"jurisdiction": policy.jurisdiction}, payload=certificate))
            # The certificate names its place in the chain: sealed now, not by the sealer.
            [record] = await uow.evidence.sealed([pending])
            await commit_and_dispatch(uow, self._queue)
        return {**certificate, "evidence": {"seq": record.seq, "hash": record.hash}}

    @staticmethod
    async def _settle_open_orders(uow: UnitOfWork, customer_id: str) -> None:
        """Orders whose money or goods are still moving cannot lose their customer: erasure
        waits for them. Orders never paid are cancelled with the account."""
        orders = await uow.orders.of_customer(customer_id, limit=10_000)
        moving = [o.id for o in orders if o.status in IN_PROGRESS]
        if moving:
            raise Conflict(
                f"{len(moving)} of your orders are still in progress ({', '.join(moving[:5])}"
                f"{'...' if len(moving) > 5 else ''}): we can erase your account once they "
                "are delivered or cancelled. Contact customer support to cancel them sooner.")
        for order in orders:
            if order.status == OrderStatus.PENDING_PAYMENT:
                order.cancel()
                await uow.orders.save(order)

    async def _keep_what_the_law_requires(
        self, uow: UnitOfWork, customer: Customer, subject: str, policy: RetentionPolicy,
    ) -> list[dict[str, Any]]:
        kept: dict[str, dict[str, Any]] = {}

        async def keep(record_class: str, payload: dict[str, Any], start: datetime) -> None:
            until = policy.until(record_class, start)
            if until <= self._clock.now():
                return
            await uow.privacy.keep(record_class, subject, policy.jurisdiction, payload, until)
            summary = kept.setdefault(record_class, {"record_class": record_class, "count": 0,
                                                     "retain_until": until.isoformat()})
            summary["count"] += 1
            summary["retain_until"] = max(summary["retain_until"], until.isoformat())

        orders = await uow.orders.of_customer(customer.id, limit=10_000)
        for order in orders:
            placed = order.created_at or self._clock.now()
            await keep("contract_records", {
                "order_id": order.id, "placed_at": placed.isoformat(),
                "status": order.status.value, "currency": order.currency,
                "total": order.total.amount, "country": order.country,
                "lines": [{"sku": line.sku, "seller_id": line.seller_id,
                           "quantity": line.quantity, "unit_price": line.unit_price.amount}
                          for line in order.lines],
            }, placed)
            payments = await uow.payments.of_order(order.id)
            paid = [p for p in payments if p.status in MONEY_TAKEN]
            if paid:
                await keep("payment_records", {
                    "order_id": order.id, "payments": [
                        {"payment_id": p.id, "provider": p.provider,
                         "provider_reference": p.provider_reference, "method": p.method,
                         "status": p.status.value, **p.amounts()} for p in paid]}, placed)
            for incident in await uow.incidents.of_subject(f"order:{order.id}"):
                await keep("complaints", {"order_id": order.id, "kind": incident["kind"],
                                          "opened_at": incident["opened_at"]},
                           datetime.fromisoformat(incident["opened_at"]))
        failures = await uow.customers.login_failures_since(
            customer.id, self._clock.now() - timedelta(days=policy.days.get("access_logs", 0)))
        if failures:
            await keep("access_logs", {"failed_sign_ins": failures}, self._clock.now())
        return sorted(kept.values(), key=lambda k: str(k["record_class"]))

    async def retained(self, subject: str) -> list[dict[str, Any]]:
        async with self._uow(read_only=True) as uow:
            return await uow.privacy.retained(subject)

    async def enforce_retention(self) -> dict[str, int]:
        """Delete what no rule keeps any more (run periodically by an actor). Each batch of
        deletions commits on its own, so no transaction holds a day's worth of rows."""
        now = self._clock.now()
        async with self._uow(autocommit=True) as uow:
            report = {"retained_records": await uow.privacy.purge_retained(now),
                      "sign_in_leftovers": await uow.privacy.purge_sign_in_leftovers(
                          now - timedelta(days=1)),
                      "finished_work": await uow.privacy.purge_finished_work(
                          now - FINISHED_WORK_KEPT)}
            logs = 0
            # Customers of a jurisdiction without a policy of its own follow the default,
            # as they do at erasure.
            for jurisdiction in sorted(JURISDICTIONS | set(self._policies)):
                days = self.policy_of(jurisdiction).days.get("access_logs")
                if days is not None:
                    logs += await uow.privacy.purge_access_logs(
                        jurisdiction, now - timedelta(days=days))
            report["access_logs"] = logs
            await uow.commit()
        return report


class RealNameIdentities:
    """Korean identity verification: CI sealed under envelope encryption, DI kept only as a
    keyed blind index that allows one account per person."""

    def __init__(self, uow: UnitOfWorkFactory, verifier: RealNameVerifier, cipher: DataCipher,
                 clock: Clock) -> None:
        self._uow, self._verifier, self._cipher, self._clock = uow, verifier, cipher, clock

    async def verify(self, customer_id: str, token: str) -> dict[str, Any]:
        result = await self._verifier.verify(token)
        di_index = self._cipher.blind_index(result.di, "kr-di")
        async with self._uow() as uow:
            mine = await uow.customers.real_names.of_customer(customer_id)
            if mine is not None and mine["di_index"] != di_index:
                raise Conflict("this account was verified as another person already; an "
                               "account belongs to one person. Contact customer support if "
                               "this is a mistake")
            owner = await uow.customers.real_names.owner_of(di_index)
            if owner is not None and owner != customer_id:
                raise Conflict("this person already has an account with us (one account per "
                               "person): sign in to it, or merge the two accounts")
            if owner is None:
                sealed = self._cipher.seal(result.ci, context=customer_id)
                if not await uow.customers.real_names.add(customer_id, di_index, sealed,
                                                self._cipher.key_id_of(sealed),
                                                result.verified_at, result.adult):
                    raise Conflict("this account or person was verified at the same moment")
                await uow.customers.set_identity_verified(customer_id, True)
                await uow.evidence.append(EvidenceDraft(
                    source=self._verifier.name, kind="kyc.verified",
                    subject=f"customer:{customer_id}", context={"method": "real_name"},
                    payload={"key_id": self._cipher.key_id_of(sealed),
                             "adult": result.adult}))
            await uow.commit()
        return {"verified": True, "adult": result.adult,
                "verified_at": result.verified_at.isoformat()}

    async def rotate_keys(self, limit: int = 500) -> int:
        """Re-seal CIs under the current master key (after a key rotation)."""
        current, rotated = self._cipher.current_key_id, 0
        async with self._uow() as uow:
            for key_id in await self._stale_key_ids(uow, current):
                for row in await uow.customers.real_names.under_key(key_id, limit):
                    sealed = self._cipher.rewrap(row["ci_ciphertext"], row["customer_id"])
                    await uow.customers.real_names.rekey(row["customer_id"], sealed, current)
                    rotated += 1
            await uow.commit()
        return rotated

    @staticmethod
    async def _stale_key_ids(uow: UnitOfWork, current: str) -> list[str]:
        return [key_id for key_id in await uow.customers.real_names.key_ids() if key_id != current]
