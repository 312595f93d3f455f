"""Redaction: Luhn-valid card numbers and secret-named fields never reach storage or logs."""

from __future__ import annotations

import pytest

from domain.redaction import (
    CARD_PLACEHOLDER,
    SECRET_PLACEHOLDER,
    holds_card_number,
    is_secret_key,
    luhn_valid,
    redact,
    redact_card_numbers,
)


@pytest.mark.parametrize(
    "number",
    ["4242424242424242", "4111111111111111", "5555555555554444", "378282246310005", "0", "18"],
)
def test_luhn_valid_numbers(number: str) -> None:
    assert luhn_valid(number)


@pytest.mark.parametrize(
    "number", ["4242424242424241", "4111111111111112", "1234567890123", "1234567812345678"]
)
def test_luhn_invalid_numbers(number: str) -> None:
    assert not luhn_valid(number)


@pytest.mark.parametrize(
    "card",
    [
        "4242424242424242",
        "4242 4242 4242 4242",
        "4242-4242-4242-4242",
        "3782 822463 10005",  # 15-digit Amex grouping
        "4111111111111111",
    ],
)
def test_card_numbers_are_removed_from_text(card: str) -> None:
    text = f"please charge {card} thanks"
    assert redact_card_numbers(text) == f"please charge {CARD_PLACEHOLDER} thanks"


def test_every_card_number_in_a_text_is_removed() -> None:
    text = "4242424242424242 and 5555-5555-5555-4444"
    assert redact_card_numbers(text) == f"{CARD_PLACEHOLDER} and {CARD_PLACEHOLDER}"


@pytest.mark.parametrize(
    "text",
    [
        "order 1234567890123",  # 13 digits, not Luhn-valid
        "4242424242424241",  # one digit off a test card
        "call 010-1234-5678",  # a phone number (too short to be a card)
        "12345678901234567890123",  # longer than any card number
        "tracking 123456789012",  # 12 digits: too short
    ],
)
def test_non_card_digit_runs_are_kept(text: str) -> None:
    assert redact_card_numbers(text) == text


@pytest.mark.parametrize(
    "text",
    ["card 4242 4242 4242 4242 12/34 cvc 123", "Apt 5 4242424242424242"],
)
def test_card_number_next_to_other_digits_is_still_removed(text: str) -> None:
    redacted = redact_card_numbers(text)
    assert "4242" not in redacted
    assert CARD_PLACEHOLDER in redacted


@pytest.mark.parametrize(
    "key",
    [
        "password",
        "Password",
        "new_password",
        "passwd",
        "api_key",
        "apiKey",
        "X-Api-Key",
        "Authorization",
        "client_secret",
        "access_token",
        "refresh_token",
        "Stripe-Signature",
        "card_number",
        "cardNumber",
        "cookie",
        "private_key",
        "cvc",
        "CVV",
        "card.cvc",
        "pan",
        "pin",
    ],
)
def test_secret_keys(key: str) -> None:
    assert is_secret_key(key)


@pytest.mark.parametrize(
    "key",
    [
        "payment_method",
        "payment_method_token",
        "token_type",
        "tracking_number",
        "order_id",
        "amount",
        "company",
        "spin",
        "shipping",
        "description",
    ],
)
def test_ordinary_keys(key: str) -> None:
    assert not is_secret_key(key)


def test_redact_nested_dicts_and_lists() -> None:
    value = {
        "order_id": "o-1",
        "password": "hunter2hunter2",
        "customer": {
            "note": "my card is 4242 4242 4242 4242",
            "api_key": {"nested": "whole value masked"},
            "phones": ["010-1234-5678", "4242-4242-4242-4242"],
        },
        "items": ({"sku": "4242424242424242", "quantity": 2},),
        "amount": 1500,
        "flag": True,
        "nothing": None,
    }
    assert redact(value) == {
        "order_id": "o-1",
        "password": SECRET_PLACEHOLDER,
        "customer": {
            "note": f"my card is {CARD_PLACEHOLDER}",
            "api_key": SECRET_PLACEHOLDER,
            "phones": ["010-1234-5678", CARD_PLACEHOLDER],
        },
        "items": [{"sku": CARD_PLACEHOLDER, "quantity": 2}],
        "amount": 1500,
        "flag": True,
        "nothing": None,
    }


def test_redact_does_not_modify_its_input() -> None:
    value = {"password": "x", "list": ["4242424242424242"]}
    redact(value)
    assert value == {"password": "x", "list": ["4242424242424242"]}


def test_redact_plain_values() -> None:
    assert redact("4242424242424242") == CARD_PLACEHOLDER
    assert redact(42) == 42
    assert redact(None) is None


def test_card_number_sent_as_a_json_number_is_removed() -> None:
    assert redact({"number": 4242424242424242}) == {"number": CARD_PLACEHOLDER}


@pytest.mark.parametrize("typed", [
    "4111  1111  1111  1111", "4111.1111.1111.1111", "4111\u00a01111\u00a01111\u00a01111",
    "4111 - 1111 - 1111 - 1111", "4111\t1111\t1111\t1111",
])
def test_cards_typed_with_other_separators_are_removed(typed: str) -> None:
    assert redact_card_numbers(f"note {typed} end") == f"note {CARD_PLACEHOLDER} end"


def test_providers_personal_fields_are_withheld_wherever_they_nest() -> None:
    from domain.redaction import PERSONAL_PLACEHOLDER

    charge = {"id": "ch_1", "amount": 1500, "receipt_email": "ada@example.com",
              "billing_details": {"name": "Ada Lovelace", "email": "ada@example.com",
                                  "address": {"line1": "12 St James's Square"}},
              "shipping": None, "metadata": {"order_id": "ord_1"}}
    cleaned = redact({"data": {"object": charge}})["data"]["object"]
    assert cleaned["receipt_email"] == cleaned["billing_details"] == PERSONAL_PLACEHOLDER
    assert cleaned["shipping"] is None  # nothing to withhold
    assert cleaned["id"] == "ch_1" and cleaned["amount"] == 1500
    assert cleaned["metadata"] == {"order_id": "ord_1"}
    assert "Ada" not in str(cleaned) and "example.com" not in str(cleaned)


HEX_KEY_WITH_A_LUHN_RUN = "5288A2280E9612439423081B66"  # a Toss transactionKey as recorded


def test_a_card_number_glued_to_letters_or_split_any_way_is_found() -> None:
    for typed in ("SKU4111111111111111", "note4111111111111111x", "4111/1111/1111/1111",
                  "4111,1111,1111,1111", "4111_1111_1111_1111", "4111 - 1111 - 1111 - 1111"):
        assert redact_card_numbers(typed) != typed, typed


def test_a_providers_identifier_is_judged_as_an_identifier() -> None:
    # random hex: digits glued to the key's letters are part of the key
    assert redact_card_numbers(HEX_KEY_WITH_A_LUHN_RUN, identifier=True) == \
        HEX_KEY_WITH_A_LUHN_RUN
    assert redact({"transactionKey": HEX_KEY_WITH_A_LUHN_RUN}) == {
        "transactionKey": HEX_KEY_WITH_A_LUHN_RUN}
    # a card number standing apart inside a hex key is still one; other ids are typed text
    assert "4111" not in redact({"transactionKey": "ab_4111111111111111"})["transactionKey"]
    assert "4111" not in redact({"id": "evt_4111111111111111"})["id"]
    assert "4111" not in redact({"id": "evtSKU4111111111111111"})["id"]
    # free text is typed text: glued or not
    assert CARD_PLACEHOLDER in redact({"note": f"ref{HEX_KEY_WITH_A_LUHN_RUN}"})["note"]
    assert holds_card_number({"note": "card4111111111111111"})
    assert not holds_card_number({"lastTransactionKey": HEX_KEY_WITH_A_LUHN_RUN})
    assert holds_card_number({"paymentKey": "tgen4111111111111111"})


def test_timestamps_are_never_read_as_card_numbers() -> None:
    # 16 digits apart from colons, dots and a plus sign: a time, not a typed card
    for stamp in ("2026-12-02T07:15:47.409670+00:00", "2026-12-02 07:15:47.409670",
                  "2024-02-13T12:18:14+09:00", "07:15:47.409670+00:00"):
        assert redact_card_numbers(stamp) == stamp
