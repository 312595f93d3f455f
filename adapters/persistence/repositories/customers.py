"""Customer accounts in and out of their table."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from adapters.persistence import raw
from adapters.persistence import tables as t
from adapters.persistence.repositories._rows import _at
from domain.customers import Customer, Role

# A customer's consents and push devices beside their row `c`: what sending them a message
# reads (REACHABLE here, and with a message's claim in deliveries.py).
REACHABLE_ARRAYS = """
       ARRAY(SELECT purpose FROM consent WHERE customer_id = c.id AND granted)
           AS granted_purposes,
       ARRAY(SELECT purpose FROM consent WHERE customer_id = c.id AND NOT granted)
           AS withdrawn_purposes,
       ARRAY(SELECT token FROM push_device WHERE customer_id = c.id
             ORDER BY registered_at DESC) AS device_tokens"""
REACHABLE = f"SELECT c.*, {REACHABLE_ARRAYS} FROM customer c WHERE c.id = $1"  # noqa: S608


class CustomerRepository:
    async def lock(self, customer_id: str) -> None:
        """Hold the customer until the unit of work ends (merges and erasures go one at a
        time); SQLite's IMMEDIATE transactions already run one writer at a time."""
        if t.Customer._meta.db.engine_type == "postgres":
            await t.Customer.select(t.Customer.id).where(
                t.Customer.id == customer_id).lock_rows("UPDATE")

    async def add(self, customer: Customer) -> bool:
        inserted = await t.Customer.insert(t.Customer(
            id=customer.id, email=customer.email, password_hash=customer.password_hash,
            role=customer.role.value, created_at=customer.created_at,
            identity_verified=customer.identity_verified,
            email_verified=customer.email_verified, jurisdiction=customer.jurisdiction,
            phone=customer.phone, language=customer.language, time_zone=customer.time_zone,
        )).on_conflict(target=t.Customer.email, action="DO NOTHING").returning(t.Customer.id)
        return bool(inserted)

    @staticmethod
    def _from(row: dict[str, Any] | None) -> Customer | None:
        if row is None:
            return None
        return Customer(row["id"], row["email"], row["password_hash"], Role(row["role"]),
                        _at(row["created_at"]), bool(row["identity_verified"]),
                        bool(row["email_verified"]), row["jurisdiction"],
                        row.get("phone") or "", row.get("language") or "",
                        row.get("time_zone") or "")

    async def get(self, customer_id: str) -> Customer | None:
        return self._from(await t.Customer.select().where(t.Customer.id == customer_id).first())

    async def signed_in(self, customer_id: str, session_id: str) -> Customer | None:
        s = t.AuthSession
        live = s.select(s.customer_id).where((s.id == session_id) & (s.status != "revoked"))
        row = await t.Customer.select().where(
            (t.Customer.id == customer_id) & t.Customer.id.is_in(live)).first()
        return self._from(row) if row else None

    async def reachable(self, customer_id: str) -> tuple[Customer, dict[str, bool],
                                                         list[str]] | None:
        if raw.on_postgres():
            rows = await raw.fetch(REACHABLE, customer_id)
            return self.reached(dict(rows[0])) if rows else None
        found = await self.get(customer_id)
        if found is None:
            return None
        c, d = t.Consent, t.PushDevice
        consents = {row["purpose"]: bool(row["granted"]) for row in await c.select(
            c.purpose, c.granted).where(c.customer_id == customer_id)}
        devices = await d.select(d.token).where(d.customer_id == customer_id).order_by(
            d.registered_at, ascending=False)
        return found, consents, [row["token"] for row in devices]

    def reached(self, row: dict[str, Any]) -> tuple[Customer, dict[str, bool],
                                                   list[str]] | None:
        """`reachable` from a row of REACHABLE's columns (None when its customer's are
        null: there is no such customer)."""
        consents = {purpose: True for purpose in row.pop("granted_purposes")}
        consents.update({purpose: False for purpose in row.pop("withdrawn_purposes")})
        devices = list(row.pop("device_tokens"))
        if row["id"] is None:
            return None
        customer = self._from(row)
        assert customer is not None
        return customer, consents, devices

    async def by_email(self, email: str) -> Customer | None:
        return self._from(await t.Customer.select().where(t.Customer.email == email).first())

    async def save(self, customer: Customer) -> None:
        await t.Customer.update({
            t.Customer.email: customer.email, t.Customer.password_hash: customer.password_hash,
            t.Customer.email_verified: customer.email_verified,
            t.Customer.jurisdiction: customer.jurisdiction,
            t.Customer.identity_verified: customer.identity_verified,
            t.Customer.phone: customer.phone, t.Customer.language: customer.language,
            t.Customer.time_zone: customer.time_zone,
        }).where(t.Customer.id == customer.id)

    async def set_identity_verified(self, customer_id: str, verified: bool) -> None:
        await t.Customer.update({t.Customer.identity_verified: verified}).where(
            t.Customer.id == customer_id)

    async def record_login_failure(self, customer_id: str, at: datetime) -> None:
        await t.LoginFailure.insert(t.LoginFailure(customer_id=customer_id, at=at))

    async def login_failures_since(self, customer_id: str, since: datetime) -> int:
        return int(await t.LoginFailure.count().where(
            (t.LoginFailure.customer_id == customer_id) & (t.LoginFailure.at >= since)
        ))
