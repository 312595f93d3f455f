"""Money: integer minor units of an ISO 4217 currency, exponents from CLDR."""

from __future__ import annotations

from decimal import Decimal

import pytest
from babel.core import get_global
from babel.numbers import get_currency_precision

from domain.errors import DomainError
from domain.money import EXPONENTS, Money, currency_exponent


@pytest.mark.parametrize(
    ("currency", "exponent"),
    [("KRW", 0), ("JPY", 0), ("USD", 2), ("EUR", 2), ("BHD", 3), ("krw", 0), ("bhd", 3)],
)
def test_currency_exponent_comes_from_cldr(currency: str, exponent: int) -> None:
    assert currency_exponent(currency) == exponent


def test_the_domains_currency_table_is_cldrs() -> None:
    # The domain keeps its own copy (it imports no library); a newer CLDR shows up here, and
    # the table in domain/money.py is regenerated from it.
    assert dict(EXPONENTS) == {code: get_currency_precision(code)
                               for code in get_global("all_currencies")}


@pytest.mark.parametrize("code", ["QQQ", "ABC", "US", "", "DOLLAR"])
def test_unknown_currency_code_raises(code: str) -> None:
    with pytest.raises(DomainError, match="ISO 4217"):
        currency_exponent(code)


def test_money_with_unknown_currency_is_rejected() -> None:
    with pytest.raises(DomainError):
        Money(100, "QQQ")


def test_currency_is_upper_cased() -> None:
    assert Money(100, "usd").currency == "USD"
    assert Money(100, "usd") == Money(100, "USD")


@pytest.mark.parametrize("amount", [1.5, 1.0, 0.0, True, False, Decimal("1"), "100", None])
def test_non_integer_amounts_are_rejected(amount: object) -> None:
    with pytest.raises(DomainError, match="integers"):
        Money(amount, "USD")  # type: ignore[arg-type]


def test_negative_and_zero_integer_amounts_are_allowed() -> None:
    assert Money(-5, "USD").amount == -5
    assert Money.zero("KRW") == Money(0, "KRW")


def test_addition_and_subtraction_in_the_same_currency() -> None:
    assert Money(1999, "USD") + Money(1, "USD") == Money(2000, "USD")
    assert Money(2000, "USD") - Money(1, "USD") == Money(1999, "USD")
    assert Money(100, "KRW") - Money(300, "KRW") == Money(-200, "KRW")


def test_multiplication_by_an_integer_quantity() -> None:
    assert Money(1250, "KRW") * 3 == Money(3750, "KRW")
    assert Money(1250, "KRW") * 0 == Money(0, "KRW")


def test_multiplication_by_a_float_is_rejected() -> None:
    with pytest.raises(DomainError):
        Money(100, "USD") * 1.5  # type: ignore[operator]


def test_comparisons() -> None:
    assert Money(1, "USD") < Money(2, "USD")
    assert Money(2, "USD") <= Money(2, "USD")
    assert not Money(3, "USD") < Money(2, "USD")
    assert Money(3, "USD") > Money(2, "USD")


@pytest.mark.parametrize(
    "combine",
    [
        lambda a, b: a + b,
        lambda a, b: a - b,
        lambda a, b: a < b,
        lambda a, b: a <= b,
    ],
    ids=["add", "sub", "lt", "le"],
)
def test_mixing_currencies_raises(combine) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(DomainError, match="cannot combine USD with KRW"):
        combine(Money(100, "USD"), Money(100, "KRW"))


def test_money_is_immutable() -> None:
    money = Money(100, "USD")
    with pytest.raises(AttributeError):
        money.amount = 200  # type: ignore[misc]


@pytest.mark.parametrize(
    ("money", "shown"),
    [
        (Money(1999, "USD"), "19.99 USD"),
        (Money(100, "USD"), "1.00 USD"),
        (Money(5, "USD"), "0.05 USD"),
        (Money(0, "USD"), "0.00 USD"),
        (Money(-150, "USD"), "-1.50 USD"),
        (Money(15000, "KRW"), "15000 KRW"),
        (Money(500, "JPY"), "500 JPY"),
        (Money(1234, "BHD"), "1.234 BHD"),
    ],
)
def test_str_displays_major_units(money: Money, shown: str) -> None:
    assert str(money) == shown


def test_decimal_property() -> None:
    assert Money(1999, "USD").decimal == Decimal("19.99")
    assert Money(1234, "BHD").decimal == Decimal("1.234")
    assert Money(1234, "KRW").decimal == Decimal("1234")
