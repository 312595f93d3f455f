"""Customers: e-mail normalisation, password policy and registration."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from domain.customers import (
    MAX_PASSWORD_LENGTH,
    MIN_PASSWORD_LENGTH,
    Customer,
    Role,
    check_password_policy,
    normalize_email,
)
from domain.errors import DomainError
from domain.events import CustomerRegistered


@pytest.mark.parametrize(
    ("raw", "normal"),
    [
        ("Alice.Smith@Example.COM", "alice.smith@example.com"),
        ("  bob@EXAMPLE.org  ", "bob@example.org"),
        ("Carol+Shop@Mail.Example.co.kr", "carol+shop@mail.example.co.kr"),
        ("dave@example.com", "dave@example.com"),
    ],
)
def test_normalize_email_is_case_insensitive(raw: str, normal: str) -> None:
    assert normalize_email(raw) == normal


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "alice",
        "alice@",
        "@example.com",
        "alice@example",
        "alice@example.c",
        "alice@@example.com",
        "al ice@example.com",
        "alice@exa mple.com",
        "a" * 65 + "@example.com",
        "alice@" + "d" * 250 + ".com",
    ],
)
def test_normalize_email_rejects_bad_emails(bad: str) -> None:
    with pytest.raises(DomainError, match="email"):
        normalize_email(bad)


def test_longest_local_part_is_accepted() -> None:
    assert normalize_email("a" * 64 + "@Example.com") == "a" * 64 + "@example.com"


@pytest.mark.parametrize(
    "password", ["x" * MIN_PASSWORD_LENGTH, "correct horse battery", "y" * MAX_PASSWORD_LENGTH]
)
def test_password_policy_accepts(password: str) -> None:
    check_password_policy(password)


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("", "at least 10"),
        ("x" * (MIN_PASSWORD_LENGTH - 1), "at least 10"),
        ("x" * (MAX_PASSWORD_LENGTH + 1), "at most 1024"),
    ],
)
def test_password_policy_rejects(password: str, message: str) -> None:
    with pytest.raises(DomainError, match=message):
        check_password_policy(password)


def test_policy_bounds() -> None:
    assert MIN_PASSWORD_LENGTH == 10
    assert MAX_PASSWORD_LENGTH == 1024


def test_register_normalises_the_email_and_records_the_event() -> None:
    now = datetime(2024, 5, 1, tzinfo=UTC)
    customer = Customer.register(customer_id="c-1", email=" Alice@Example.COM ",
                                 password_hash="$argon2id$fake", now=now)
    assert customer.email == "alice@example.com"
    assert customer.role == Role.CUSTOMER
    assert not customer.is_admin
    assert customer.created_at == now
    assert customer.events == [CustomerRegistered("c-1")]


def test_register_admin_and_bad_email() -> None:
    now = datetime(2024, 5, 1, tzinfo=UTC)
    admin = Customer.register(customer_id="a-1", email="ops@example.com",
                              password_hash="h", now=now, role=Role.ADMIN)
    assert admin.is_admin
    with pytest.raises(DomainError):
        Customer.register(customer_id="c-2", email="nope", password_hash="h", now=now)
