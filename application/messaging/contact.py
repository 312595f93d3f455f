"""The customer's contact details beyond their email: a mobile number for SMS, the language
messages are written in, the time zone quiet hours are counted in."""

from __future__ import annotations

from dataclasses import dataclass

from application.ports import UnitOfWorkFactory
from domain.contact import (
    language_of,
    time_zone_of,
    valid_language,
    valid_phone,
    valid_time_zone,
)
from domain.customers import Customer
from domain.deliveries import masked
from domain.errors import NotFound
from domain.evidence import EvidenceDraft
from domain.messages import Channel


@dataclass(frozen=True)
class ContactChange:
    """What the customer changes; None leaves a detail as it is, "" clears it."""

    phone: str | None = None
    language: str | None = None
    time_zone: str | None = None


@dataclass(frozen=True)
class Contact:
    phone: str
    language: str  # as given ("" when not), and what messages use:
    time_zone: str
    effective_language: str
    effective_time_zone: str


def contact_of(customer: Customer) -> Contact:
    return Contact(customer.phone, customer.language, customer.time_zone,
                   language_of(customer.language, customer.jurisdiction),
                   time_zone_of(customer.time_zone, customer.jurisdiction).key)


class ContactDetails:
    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def of(self, customer_id: str) -> Contact:
        async with self._uow(read_only=True) as unit:
            customer = await unit.customers.get(customer_id)
        if customer is None:
            raise NotFound("account not found")
        return contact_of(customer)

    async def change(self, customer_id: str, change: ContactChange) -> Contact:
        # Checked before anything is read: a bad value is a 422 whatever the account.
        phone = None if change.phone is None else valid_phone(change.phone)
        language = None if change.language is None else valid_language(change.language)
        zone = None if change.time_zone is None else valid_time_zone(change.time_zone)
        async with self._uow() as unit:
            customer = await unit.customers.get(customer_id)
            if customer is None:
                raise NotFound("account not found")
            changed: dict[str, str] = {}
            if phone is not None and phone != customer.phone:
                customer.phone = phone
                changed["phone"] = masked(Channel.SMS, phone) if phone else ""
            if language is not None and language != customer.language:
                customer.language = changed["language"] = language
            if zone is not None and zone != customer.time_zone:
                customer.time_zone = changed["time_zone"] = zone
            if changed:
                await unit.customers.save(customer)
                await unit.evidence.append(EvidenceDraft(
                    source="storefront", kind="contact.changed",
                    subject=f"customer:{customer_id}", context={}, payload=changed))
                await unit.commit()
        return contact_of(customer)
