"""Routing a payment to the provider contracts that cover it."""

from __future__ import annotations

import pytest

from domain.errors import DomainError
from domain.routing import ProviderContract, UnsupportedRoute, eligible_providers


def contract(provider: str, countries: set[str], currencies: set[str], methods: set[str],
             priority: int = 100, *, enabled: bool = True) -> ProviderContract:
    return ProviderContract(provider, frozenset(countries), frozenset(currencies),
                            frozenset(methods), priority, enabled)


CONTRACTS = [
    contract("korea-pg", {"KR"}, {"KRW"}, {"card", "virtual_account"}, priority=10),
    contract("global-cards", {"*"}, {"USD", "EUR", "KRW"}, {"card"}, priority=50),
    contract("japan-pg", {"JP"}, {"JPY"}, {"card", "konbini"}, priority=10),
    contract("anything", {"*"}, {"*"}, {"*"}, priority=900),
    contract("retired", {"KR"}, {"KRW"}, {"card"}, priority=1, enabled=False),
]


def test_picks_by_country_currency_and_method_best_priority_first() -> None:
    assert eligible_providers(CONTRACTS, country="KR", currency="KRW", method="card") == [
        "korea-pg", "global-cards", "anything",
    ]


def test_method_narrows_the_choice() -> None:
    assert eligible_providers(
        CONTRACTS, country="KR", currency="KRW", method="virtual_account"
    ) == ["korea-pg", "anything"]
    assert eligible_providers(CONTRACTS, country="JP", currency="JPY", method="konbini") == [
        "japan-pg", "anything",
    ]


def test_country_and_currency_are_case_insensitive() -> None:
    assert eligible_providers(CONTRACTS, country="kr", currency="krw", method="card")[0] == (
        "korea-pg"
    )


def test_wildcards_match_anything() -> None:
    assert eligible_providers(CONTRACTS, country="BR", currency="BRL", method="pix") == [
        "anything"
    ]
    assert eligible_providers(CONTRACTS, country="US", currency="USD", method="card") == [
        "global-cards", "anything",
    ]


def test_disabled_contracts_are_skipped() -> None:
    assert "retired" not in eligible_providers(
        CONTRACTS, country="KR", currency="KRW", method="card"
    )
    only_disabled = [contract("retired", {"KR"}, {"KRW"}, {"card"}, enabled=False)]
    with pytest.raises(UnsupportedRoute):
        eligible_providers(only_disabled, country="KR", currency="KRW", method="card")


def test_equal_priority_is_ordered_by_name() -> None:
    contracts = [contract("zeta", {"*"}, {"*"}, {"*"}), contract("alpha", {"*"}, {"*"}, {"*"})]
    assert eligible_providers(contracts, country="KR", currency="KRW", method="card") == [
        "alpha", "zeta",
    ]


def test_covers() -> None:
    korea = CONTRACTS[0]
    assert korea.covers("KR", "KRW", "card")
    assert not korea.covers("US", "KRW", "card")
    assert not korea.covers("KR", "USD", "card")
    assert not korea.covers("KR", "KRW", "paypal")


def test_no_route_raises_unsupported_route() -> None:
    with pytest.raises(UnsupportedRoute) as raised:
        eligible_providers(CONTRACTS[:3], country="BR", currency="BRL", method="card")
    error = raised.value
    assert isinstance(error, DomainError)
    assert not error.retryable
    assert error.code == "unsupported-payment-route"
    assert "BRL" in error.detail
    assert "BR" in error.detail.replace("BRL", "")
    assert "card" in error.detail


def test_no_contracts_at_all_raises() -> None:
    with pytest.raises(UnsupportedRoute, match="KRW"):
        eligible_providers([], country="KR", currency="KRW", method="card")
