"""Customers and their local (password) accounts."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from domain.errors import DomainError
from domain.events import CustomerRegistered, Event

EMAIL_PATTERN = r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]{2,}$"
_EMAIL = re.compile(EMAIL_PATTERN)
MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 1024


class Role(StrEnum):
    CUSTOMER = "customer"
    ADMIN = "admin"


def normalize_email(email: str) -> str:
    """Addresses compare case-insensitively (Alice@Example.com is alice@example.com): every
    lookup, link, merge and erasure goes through this one form."""
    email = email.strip()
    if len(email) > 254 or not _EMAIL.match(email):
        raise DomainError("email must look like name@example.com")
    return email.lower()


def check_password_policy(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise DomainError(f"password must be at least {MIN_PASSWORD_LENGTH} characters long")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise DomainError(f"password must be at most {MAX_PASSWORD_LENGTH} characters long")


@dataclass
class Customer:
    id: str
    email: str
    password_hash: str
    role: Role = Role.CUSTOMER
    created_at: datetime | None = None
    identity_verified: bool = False  # a real-name identity check passed (KYC)
    email_verified: bool = False
    jurisdiction: str = "default"  # which retention rules apply (KR, EU, default)
    # How messages reach them besides email (domain/contact.py): "" when not given.
    phone: str = ""  # E.164
    language: str = ""  # en | ko
    time_zone: str = ""  # IANA
    events: list[Event] = field(default_factory=list, repr=False, compare=False)

    @classmethod
    def register(
        cls, *, customer_id: str, email: str, password_hash: str, now: datetime,
        role: Role = Role.CUSTOMER,
    ) -> Customer:
        customer = cls(customer_id, normalize_email(email), password_hash, role, now)
        customer.events.append(CustomerRegistered(customer_id))
        return customer

    @property
    def is_admin(self) -> bool:
        return self.role == Role.ADMIN

    @property
    def has_password(self) -> bool:
        return bool(self.password_hash)


EU = frozenset("AT BE BG HR CY CZ DK EE FI FR DE GR HU IE IT LV LT LU MT NL PL PT RO SK SI "
               "ES SE IS LI NO".split())


JURISDICTIONS = frozenset({"KR", "EU", "default"})  # every value jurisdiction_of gives


def jurisdiction_of(country: str | None) -> str:
    """The retention rules a customer falls under, from their country (EEA → EU)."""
    code = (country or "").upper()
    if code == "KR":
        return "KR"
    return "EU" if code in EU else "default"


def placeholder_email(provider: str, subject: str) -> str:
    """An address for an account whose provider did not assert a verified email: unique,
    undeliverable, and never matching a real customer's address."""
    digest = hashlib.sha256(f"{provider}|{subject}".encode()).hexdigest()[:24]
    return f"{provider}-{digest}@users.invalid"
