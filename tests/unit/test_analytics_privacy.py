"""The analytics privacy filter and consent rule: no email, phone, name, address or card
number leaves, whatever the property is called or where the value hides it; our ids leave
only as a keyed hash whose key rotates."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.analytics_privacy import (
    PseudonymKeys,
    may_track,
    personal_key,
    personal_value,
    screen,
)

KEYS = PseudonymKeys({"k1": b"k" * 32, "k2": b"j" * 32}, "k1")
EMAILS = st.builds(lambda user, host: f"{user}@{host}.com",
                   st.from_regex(r"[a-z0-9._%+-]{1,20}", fullmatch=True),
                   st.from_regex(r"[a-z0-9-]{1,20}", fullmatch=True))
CARDS = st.sampled_from(["4111111111111111", "4111 1111 1111 1111", "5555-5555-5555-4444",
                         "378282246310005", "6011111111111117"])
PHONES = st.builds(lambda a, b, c: f"+82 {a}-{b}-{c}", st.integers(10, 99),
                   st.integers(1000, 9999), st.integers(1000, 9999)) | st.sampled_from(
    ["010-1234-5678", "(415) 555-0100", "+14155550100", "02 3456 7890"])
NOISE = st.text(st.characters(categories=["L", "Zs"]), max_size=12)
KEY_NAMES = st.from_regex(r"[a-z]{1,6}(_[a-z]{1,6})?", fullmatch=True).filter(
    lambda key: not personal_key(key))


@given(st.lists(st.tuples(KEY_NAMES, EMAILS | CARDS | PHONES, NOISE, NOISE), min_size=1,
                max_size=5))
def test_an_email_a_card_number_or_a_phone_anywhere_in_a_value_is_withheld(
        hidden: list[tuple[str, str, str, str]]) -> None:
    properties = {key: f"{before} {secret} {after}" for key, secret, before, after in hidden}
    screened = screen(properties, refs=(), keys=KEYS)
    assert screened.properties == {}
    assert set(screened.withheld) == set(properties)


@pytest.mark.parametrize("key", ["email", "customerEmail", "phone_number", "mobile", "name",
                                 "first_name", "lastName", "full_name", "shipping_address",
                                 "address_line1", "street", "postal_code", "card_number",
                                 "cardNumber", "recipient", "city"])
def test_a_property_named_like_personal_data_is_withheld_whatever_its_value(key: str) -> None:
    screened = screen({key: "harmless", "sku": "TEA-01"}, refs=(), keys=KEYS)
    assert screened.properties == {"sku": "TEA-01"}
    assert screened.withheld == {key: "personal data by its name"}


@given(st.dictionaries(KEY_NAMES, st.integers(-10**11, 10**11) | st.booleans()
                       | st.from_regex(r"[A-Z]{2,5}-[0-9]{1,6}", fullmatch=True),
                       max_size=6))
def test_codes_counts_and_flags_pass_unchanged(properties: dict[str, Any]) -> None:
    screened = screen(properties, refs=(), keys=KEYS)
    assert screened.properties == properties and screened.withheld == {}


def test_nested_values_and_card_numbers_as_numbers_are_withheld() -> None:
    screened = screen({"items": [{"email": "a@b.co"}], "extra": {"x": 1},
                       "amount": 4111111111111111}, refs=(), keys=KEYS)
    assert screened.properties == {}
    assert screened.withheld == {"items": "not a plain value", "extra": "not a plain value",
                                 "amount": "holds a card number"}


@given(st.text(min_size=8, max_size=40))
def test_refs_leave_only_as_a_keyed_hash(order_id: str) -> None:
    screened = screen({"order_ref": order_id}, refs=["order_ref"], keys=KEYS)
    hashed = screened.properties["order_ref"]
    assert hashed.startswith("anon_") and order_id not in hashed
    assert hashed == KEYS.hash(order_id)  # stable: the same order is one id


def test_a_rotated_key_makes_ids_that_do_not_link_to_the_old_ones() -> None:
    rotated = PseudonymKeys(KEYS.keys, "k2")
    assert rotated.hash("cus_1") != KEYS.hash("cus_1")
    assert KEYS.hash("cus_1") == PseudonymKeys({"k1": b"k" * 32}, "k1").hash("cus_1")
    with pytest.raises(ValueError, match="not among the keys"):
        PseudonymKeys({"k1": b"k" * 32}, "k9")


def test_dates_and_short_numbers_are_not_taken_for_phones() -> None:
    assert personal_value("2026-12-02") == ""
    assert personal_value("SKU-1234") == ""
    assert personal_value("call 010-1234-5678") == "phone"


@pytest.mark.parametrize(("jurisdiction", "consents", "allowed"), [
    ("EU", {}, False), ("EU", {"analytics": True}, True), ("EU", {"analytics": False}, False),
    ("KR", {}, False), ("KR", {"analytics": True}, True),
    ("KR", {"marketing_email": True}, False),
    ("default", {}, True), ("default", {"analytics": False}, False),
])
def test_analytics_needs_the_opt_in_where_the_jurisdiction_requires_it(
        jurisdiction: str, consents: dict[str, bool], allowed: bool) -> None:
    assert may_track(jurisdiction, consents) is allowed


def test_the_jurisdictions_requiring_an_opt_in_are_configurable() -> None:
    assert may_track("KR", {}, opt_in=["EU"]) is True
    assert may_track("default", {}, opt_in=["default"]) is False
