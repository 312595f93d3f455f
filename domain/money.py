"""Money in integer minor units of an ISO 4217 currency; never floats."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from babel.core import get_global
from babel.numbers import get_currency_precision

from domain.errors import DomainError


def currency_exponent(currency: str) -> int:
    """Digits after the decimal point of `currency`, from CLDR data (KRW 0, USD 2, BHD 3)."""
    code = currency.upper()
    if code not in get_global("all_currencies"):
        raise DomainError(f"'{currency}' is not an ISO 4217 currency code")
    return int(get_currency_precision(code))


@dataclass(frozen=True, slots=True)
class Money:
    amount: int  # minor units
    currency: str

    def __post_init__(self) -> None:
        if isinstance(self.amount, bool) or not isinstance(self.amount, int):
            raise DomainError("money amounts are integers in the currency's minor unit")
        object.__setattr__(self, "currency", self.currency.upper())
        currency_exponent(self.currency)

    @classmethod
    def zero(cls, currency: str) -> Money:
        return cls(0, currency)

    def _same(self, other: Money) -> None:
        if other.currency != self.currency:
            raise DomainError(f"cannot combine {self.currency} with {other.currency}")

    def __add__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.amount + other.amount, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.amount - other.amount, self.currency)

    def __mul__(self, factor: int) -> Money:
        return Money(self.amount * factor, self.currency)

    def __lt__(self, other: Money) -> bool:
        self._same(other)
        return self.amount < other.amount

    def __le__(self, other: Money) -> bool:
        self._same(other)
        return self.amount <= other.amount

    @property
    def decimal(self) -> Decimal:
        """The amount in major units, for display only."""
        return Decimal(self.amount).scaleb(-currency_exponent(self.currency))

    def __str__(self) -> str:
        return f"{self.decimal} {self.currency}"
