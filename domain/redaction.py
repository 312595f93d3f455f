"""Keeping card numbers and secrets out of everything we store or log.

Card numbers are found as 13-19 digit runs (spaces or dashes allowed between digits) that pass
the Luhn check, the way PCI DSS scanners find them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

CARD_PLACEHOLDER = "[card number removed]"
SECRET_PLACEHOLDER = "[redacted]"  # noqa: S105 - the mask, not a secret

# Runs of 13 or more digits with up to three separators (any space, dots, dashes) between
# them, not glued to letters: digits inside an identifier such as "sbx_1e4242...f3" are not a
# typed card number.
_SEPARATORS = r"[\s.\-]"
_CARD_CANDIDATE = re.compile(
    rf"(?<![0-9A-Za-z])(?:\d{_SEPARATORS}{{0,3}}){{12,}}\d(?![0-9A-Za-z])")
_SECRET_KEYS = re.compile(
    r"(password|passwd|secret|token|authorization|api[-_]?key|signature|card[-_]?number|"
    r"cookie|private[-_]?key|(^|[-_.])(pan|cvc|cvv|cvc2|pin)($|[-_.]))",
    re.IGNORECASE,
)
# Fields in which providers send the payer's personal data (Stripe's billing_details,
# receipt_email, shipping; Toss's customer fields): what we keep of their messages (webhook
# copies, evidence) must not hold it, since evidence can never be erased.
PERSONAL_PLACEHOLDER = "[personal data withheld]"
_PERSONAL_KEYS = frozenset({
    "billing_details", "receipt_email", "shipping", "customer_details", "customer_email",
    "customer_name", "customer_phone", "customeremail", "customername",
    "customermobilephone", "email", "phone", "mobile", "address",
})
# Reference-like keys that merely contain the word "token" but are not credentials.
_SAFE_KEYS = frozenset({"token_type", "payment_method_token", "payment_method"})


def luhn_valid(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = ord(char) - 48
        if index % 2 == 1:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def redact_card_numbers(text: str) -> str:
    """Replace every Luhn-valid card-like number in `text` with a placeholder."""

    def replace(match: re.Match[str]) -> str:
        groups = re.split(rf"{_SEPARATORS}+", match.group(0))
        return CARD_PLACEHOLDER if contains_card_number(groups) else match.group(0)

    return _CARD_CANDIDATE.sub(replace, text)


def contains_card_number(groups: list[str]) -> bool:
    """True when consecutive digit groups (as typed, split at spaces or dashes) add up to a
    13-19 digit Luhn-valid number: a card typed next to an expiry date or a house number is
    still found, while one long unbroken number is judged as a whole."""
    for start in range(len(groups)):
        digits = ""
        for group in groups[start:]:
            digits += group
            if len(digits) > 19:
                break
            if len(digits) >= 13 and luhn_valid(digits):
                return True
    return False


def is_secret_key(key: str) -> bool:
    return key.lower() not in _SAFE_KEYS and bool(_SECRET_KEYS.search(key))


def is_personal_key(key: str) -> bool:
    return key.lower() in _PERSONAL_KEYS


def redact(value: Any) -> Any:
    """A deep copy of `value` with secret-named fields masked, fields of personal data
    withheld and card numbers removed."""
    if isinstance(value, Mapping):
        return {
            str(k): (SECRET_PLACEHOLDER if is_secret_key(str(k))
                     else PERSONAL_PLACEHOLDER if is_personal_key(str(k)) and v
                     else redact(v))
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [redact(v) for v in value]
    if isinstance(value, str):
        return redact_card_numbers(value)
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10**12:
        return CARD_PLACEHOLDER if contains_card_number([str(abs(value))]) else value
    return value
