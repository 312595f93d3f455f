"""Provider contracts and the routing of a payment to one of them."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from domain.errors import DomainError


@dataclass(frozen=True)
class ProviderContract:
    """What a configured provider may be used for."""

    provider: str
    countries: frozenset[str]  # "*" means any
    currencies: frozenset[str]
    methods: frozenset[str]
    priority: int = 100
    enabled: bool = True

    def covers(self, country: str, currency: str, method: str) -> bool:
        return (
            self.enabled
            and ("*" in self.countries or country.upper() in self.countries)
            and ("*" in self.currencies or currency.upper() in self.currencies)
            and ("*" in self.methods or method in self.methods)
        )


class UnsupportedRoute(DomainError):
    code = "unsupported-payment-route"


def eligible_providers(
    contracts: Iterable[ProviderContract], *, country: str, currency: str, method: str
) -> list[str]:
    """Providers that may take this payment, best first; a clear error when there is none."""
    chosen = sorted(
        (c for c in contracts if c.covers(country, currency, method)),
        key=lambda c: (c.priority, c.provider),
    )
    if not chosen:
        raise UnsupportedRoute(
            f"no payment provider accepts {method} payments in {currency} for orders shipped "
            f"to {country}; choose another payment method or contact customer support"
        )
    return [c.provider for c in chosen]
