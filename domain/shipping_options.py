"""Which carriers and services may take a parcel to a country, at what fee and how fast.

The mall's contracts with its carriers say it: per carrier and service, the countries served,
the delivery fee the customer pays (per currency; none means it is in the item prices) and the
business days a delivery usually takes. The customer chooses among the options for the
shipping address; an order to a country no contract serves is refused with what is possible.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from domain.errors import DomainError
from domain.money import Money

EVERYWHERE = "*"


class NoShippingOption(DomainError):
    """The chosen carrier or service does not go there; `options` says what does."""

    code = "no-shipping-option"

    def __init__(self, detail: str, options: list[dict[str, object]],
                 countries: list[str]) -> None:
        super().__init__(detail)
        self.options, self.countries = options, countries


def country_code(value: str) -> str:
    """An ISO 3166-1 alpha-2 country code, upper case."""
    if len(value) != 2 or not value.isascii() or not value.isalpha():
        raise DomainError("country must be an ISO 3166-1 alpha-2 code such as KR or US")
    return value.upper()


@dataclass(frozen=True)
class ShippingContract:
    carrier: str
    service: str
    countries: frozenset[str]  # ISO 3166-1 alpha-2 codes, or "*" for every country
    fees: Mapping[str, int] = field(default_factory=dict)  # minor units per currency
    days: tuple[int, int] | None = None  # usual delivery time in business days
    # Sellers hand the parcels to this carrier themselves and register the tracking number.
    seller_ships: bool = False

    def serves(self, country: str) -> bool:
        return EVERYWHERE in self.countries or country.upper() in self.countries


@dataclass(frozen=True)
class ShippingOption:
    carrier: str
    service: str
    fee: Money | None  # None: no delivery fee in this currency
    days: tuple[int, int] | None
    seller_ships: bool

    def view(self) -> dict[str, object]:
        return {
            "carrier": self.carrier, "service": self.service,
            "fee": self.fee.amount if self.fee else 0,
            "fee_display": str(self.fee) if self.fee else "free",
            "estimated_days": ({"min": self.days[0], "max": self.days[1]}
                               if self.days else None),
            "seller_ships": self.seller_ships,
        }


class ShippingCatalogue:
    def __init__(self, contracts: Iterable[ShippingContract],
                 open_to_new_work: Callable[[str], bool] = lambda carrier: True) -> None:
        """`open_to_new_work(carrier)`: False for a carrier being switched away from (the
        provider registry), whose options are no longer offered."""
        self._contracts = list(contracts)
        self._open = open_to_new_work

    @property
    def carriers(self) -> frozenset[str]:
        return frozenset(c.carrier for c in self._contracts)

    def countries(self) -> list[str]:
        return sorted({country for c in self._contracts for country in c.countries})

    def options(self, country: str, currency: str) -> list[ShippingOption]:
        """What the customer may choose for an address in `country`, cheapest first."""
        found = [ShippingOption(
            c.carrier, c.service,
            Money(c.fees[currency.upper()], currency.upper())
            if c.fees.get(currency.upper()) else None,
            c.days, c.seller_ships) for c in self._contracts
            if c.serves(country) and self._open(c.carrier)]
        return sorted(found, key=lambda o: (o.fee.amount if o.fee else 0,
                                            o.days or (99, 99), o.carrier, o.service))

    def choose(self, country: str, currency: str, carrier: str,
               service: str = "") -> ShippingOption:
        """The option the customer chose; without a service, the carrier's cheapest."""
        options = self.options(country, currency)
        if not options:
            raise NoShippingOption(
                f"no carrier delivers to {country.upper()}; the mall ships to "
                + ", ".join(self.countries()), [], self.countries())
        for option in options:
            if option.carrier == carrier and (not service or option.service == service):
                return option
        wanted = f"{carrier} {service}".strip()
        raise NoShippingOption(
            f"{wanted} does not deliver to {country.upper()}; choose one of "
            + ", ".join(f"{o.carrier} {o.service}" for o in options),
            [o.view() for o in options], self.countries())


def contracts_from(raw: Iterable[Mapping[str, object]]) -> list[ShippingContract]:
    """Contracts as settings write them (see adapters/settings.py)."""
    made = []
    for item in raw:
        days = item.get("days")
        made.append(ShippingContract(
            carrier=str(item["carrier"]), service=str(item.get("service", "standard")),
            countries=frozenset(str(c).upper() for c in _list(item.get("countries", ["*"]))),
            fees={str(k).upper(): int(str(v)) for k, v in _map(item.get("fees", {})).items()},
            days=(int(str(_list(days)[0])), int(str(_list(days)[1]))) if days else None,
            seller_ships=bool(item.get("seller_ships", False)),
        ))
    return made


def _list(value: object) -> list[object]:
    if not isinstance(value, list | tuple):
        raise DomainError(f"expected a list, got {value!r}")
    return list(value)


def _map(value: object) -> Mapping[str, object]:
    if not isinstance(value, Mapping):
        raise DomainError(f"expected a mapping, got {value!r}")
    return value
