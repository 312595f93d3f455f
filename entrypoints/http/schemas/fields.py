"""The base every request body shares (strict, unknown fields refused) and the field types
checked at the edge: amounts, currencies, countries, emails, passwords."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from functools import cache
from typing import Annotated, Any

import pycountry
from babel.numbers import get_territory_currencies
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from domain.customers import EMAIL_PATTERN, MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH

# Numbers a person sends stay below 10^12 (12 digits): no number field can hold a card number.
MAX_MINOR = 10**12 - 1


class Strict(BaseModel):
    """Request bodies: unknown fields refused, and no coercion (true is not 1, "1" is not 1)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, strict=True)


@cache
def active_currencies() -> frozenset[str]:
    """ISO 4217 codes (pycountry) that are legal tender somewhere today (CLDR, through Babel):
    no fund codes, precious metals, test or "no currency" codes (XXX, XTS, XAU...)."""
    today = date.today()
    tender = {code for country in pycountry.countries
              for code in get_territory_currencies(country.alpha_2, today, tender=True)}
    return frozenset(c.alpha_3 for c in pycountry.currencies if c.alpha_3 in tender)


@cache
def countries() -> frozenset[str]:
    """ISO 3166-1 alpha-2 codes, from pycountry's copy of the ISO (Debian iso-codes) data."""
    return frozenset(country.alpha_2 for country in pycountry.countries)


def _currency(value: str) -> str:
    code = value.upper()
    if code not in active_currencies():
        raise ValueError("must be an active ISO 4217 currency code, such as KRW or USD")
    return code


def _country(value: str) -> str:
    code = value.upper()
    if code not in countries():
        raise ValueError("must be an ISO 3166-1 alpha-2 country code, such as KR or US")
    return code


def _codes(values: Callable[[], frozenset[str]]) -> Callable[[dict[str, Any]], None]:
    """The document lists the accepted codes (lower case is accepted too)."""
    return lambda schema: schema.update(enum=sorted(values()))


Currency = Annotated[str, Field(min_length=3, max_length=3, examples=["KRW"],
                                json_schema_extra=_codes(active_currencies)),
                     AfterValidator(_currency)]


Country = Annotated[str, Field(min_length=2, max_length=2, examples=["KR"],
                               json_schema_extra=_codes(countries)),
                    AfterValidator(_country)]


# What domain.customers.normalize_email accepts; addresses compare case-insensitively.
Email = Annotated[str, Field(min_length=3, max_length=254, pattern=EMAIL_PATTERN,
                             examples=["ada@example.com"],
                             description="compared case-insensitively")]


NewPassword = Annotated[str, Field(min_length=MIN_PASSWORD_LENGTH,
                                   max_length=MAX_PASSWORD_LENGTH,
                                   examples=["correct horse battery"],
                                   description=f"at least {MIN_PASSWORD_LENGTH} characters")]


class Answer(BaseModel):
    """Response bodies: a field the model does not declare is drift between the document and
    the answer, so the check of answers (MALL_VALIDATE_RESPONSES) refuses it."""

    model_config = ConfigDict(extra="forbid")
