"""Carrier choice per destination, from the mall's contracts; seller API keys."""

from __future__ import annotations

import pytest

from adapters.seller_keys import SellerKeys
from domain.errors import DomainError, Unauthorized
from domain.money import Money
from domain.shipping_options import (
    NoShippingOption,
    ShippingCatalogue,
    contracts_from,
    country_code,
)

CATALOGUE = ShippingCatalogue(contracts_from([
    {"carrier": "easypost", "service": "Express", "countries": ["US", "JP"],
     "fees": {"USD": 2500}, "days": [2, 3]},
    {"carrier": "easypost", "service": "Ground", "countries": ["US"], "fees": {"USD": 900},
     "days": [3, 7]},
    {"carrier": "kr.cjlogistics", "countries": ["kr"], "fees": {"KRW": 3000}, "days": [1, 2],
     "seller_ships": True},
    {"carrier": "sandbox-express", "countries": ["*"]},
]))


def test_options_are_those_serving_the_country_cheapest_first() -> None:
    us = CATALOGUE.options("us", "usd")
    assert [(o.carrier, o.service, o.fee) for o in us] == [
        ("sandbox-express", "standard", None), ("easypost", "Ground", Money(900, "USD")),
        ("easypost", "Express", Money(2500, "USD"))]
    assert us[1].view() == {"carrier": "easypost", "service": "Ground", "fee": 900,
                            "fee_display": str(Money(900, "USD")),
                            "estimated_days": {"min": 3, "max": 7}, "seller_ships": False}
    # A fee in another currency is not charged: the option is free in this one.
    assert [(o.carrier, o.fee) for o in CATALOGUE.options("KR", "USD")] == [
        ("kr.cjlogistics", None), ("sandbox-express", None)]


def test_choosing_a_carrier_without_a_service_takes_its_cheapest() -> None:
    assert CATALOGUE.choose("US", "USD", "easypost").service == "Ground"
    assert CATALOGUE.choose("US", "USD", "easypost", "Express").fee == Money(2500, "USD")


def test_a_choice_that_does_not_deliver_there_lists_what_does() -> None:
    with pytest.raises(NoShippingOption, match="easypost Ground does not deliver to JP") as no:
        CATALOGUE.choose("JP", "USD", "easypost", "Ground")
    assert [(o["carrier"], o["service"]) for o in no.value.options] == [
        ("sandbox-express", "standard"), ("easypost", "Express")]


def test_a_country_no_contract_serves_names_the_countries_served() -> None:
    domestic = ShippingCatalogue(contracts_from([{"carrier": "kr.epost", "countries": ["KR"],
                                                  "seller_ships": True}]))
    with pytest.raises(NoShippingOption, match="no carrier delivers to US; the mall ships "
                                               "to KR") as no:
        domestic.choose("US", "USD", "kr.epost")
    assert (no.value.options, no.value.countries) == ([], ["KR"])


@pytest.mark.parametrize("bad", ["K", "KOR", "1A", "한국", ""])
def test_a_country_is_an_iso_code(bad: str) -> None:
    with pytest.raises(DomainError, match="ISO 3166-1 alpha-2"):
        country_code(bad)


def test_a_seller_key_names_its_seller_and_nothing_else_passes() -> None:
    keys = SellerKeys("secret-" + "s" * 40)
    key = keys.issue("seller.a-1")
    assert keys.seller_of(key) == "seller.a-1"
    prefix, mac, seller = key.split(".", 2)
    forged = [f"{prefix}.{mac}.seller-b", f"{prefix}.{mac[:-1]}x.{seller}", key[:-1],
              key.replace("msk", "sk", 1), "", SellerKeys("another-" + "s" * 40).issue(seller)]
    for attempt in forged:
        with pytest.raises(Unauthorized, match="not a seller API key"):
            keys.seller_of(attempt)
    with pytest.raises(ValueError, match="seller id"):
        keys.issue("seller a")
