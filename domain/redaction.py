"""Keeping card numbers and secrets out of everything we store or log.

Card numbers are found as 13-19 digit runs (with any separators between digit groups, glued
to letters or not) that pass the Luhn check, the way PCI DSS scanners find them.
"""

from __future__ import annotations

import functools
import re
import secrets
from collections.abc import Mapping
from typing import Any

CARD_PLACEHOLDER = "[card number removed]"
SECRET_PLACEHOLDER = "[redacted]"  # noqa: S105 - the mask, not a secret

# Runs of 13 or more digits with up to three of the separators people type in a card number
# (spaces, dashes, dots, slashes, commas, underscores) between them; not colons or plus signs,
# which join the parts of a timestamp. Letters around the run do not matter:
# "SKU4111111111111111" is a typed card number too. Our own random identifiers are drawn so
# that they never hold such a run (`card_safe_id`).
_SEPARATOR = r"[ \t\u00a0\-./,_]"
_CARD_CANDIDATE = re.compile(rf"[0-9](?:{_SEPARATOR}{{0,3}}[0-9]){{12,}}")
# A provider's random hex identifier (Toss's transaction keys) holds a Luhn-valid digit run
# glued to its letters about once in a few hundred: in those fields, and only there, digits
# glued to the key's own letters are part of it; a card number standing apart still counts.
_STANDALONE_CANDIDATE = re.compile(rf"(?<![0-9A-Za-z]){_CARD_CANDIDATE.pattern}(?![0-9A-Za-z])")
_HEX_IDENTIFIER_KEYS = frozenset({"transactionkey", "lasttransactionkey"})
_IDENTIFIER_VALUE = re.compile(r"^[A-Za-z0-9_:.\-]{1,128}$")
_NON_DIGITS = re.compile(r"[^0-9]+")
_SECRET_KEYS = re.compile(
    r"(password|passwd|secret|token|authorization|api[-_]?key|signature|card[-_]?number|"
    r"cookie|private[-_]?key|(^|[-_.])(pan|cvc|cvv|cvc2|pin)($|[-_.]))",
    re.IGNORECASE,
)
# Fields in which providers send personal data (Stripe's billing_details, receipt_email,
# shipping; Toss's customer fields; EasyPost's tracking places): what we keep of their
# messages (webhook copies, evidence) must not hold it, since evidence can never be erased.
PERSONAL_PLACEHOLDER = "[personal data withheld]"
_PERSONAL_KEYS = frozenset({
    "billing_details", "receipt_email", "shipping", "customer_details", "customer_email",
    "customer_name", "customer_phone", "customeremail", "customername",
    "customermobilephone", "email", "phone", "mobile", "address",
    # EasyPost's trackers: who signed for the parcel, and places down to the recipient's
    # city and postcode.
    "signed_by", "tracking_location", "origin_tracking_location", "destination_location",
    "origin_location", "destination_tracking_location",
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


def redact_card_numbers(text: str, *, identifier: bool = False) -> str:
    """Replace every Luhn-valid card-like number in `text` with a placeholder; in a
    provider's hex `identifier`, only runs not glued to its other letters and digits."""

    def replace(match: re.Match[str]) -> str:
        groups = _NON_DIGITS.split(match.group(0))
        return CARD_PLACEHOLDER if contains_card_number(groups) else match.group(0)

    if identifier and _IDENTIFIER_VALUE.match(text):
        return _STANDALONE_CANDIDATE.sub(replace, text)
    return _CARD_CANDIDATE.sub(replace, text)


# A digest written out in hex (a SHA-256 of the evidence chain, a MAC): 32 hex digits or
# more, standing apart. It holds a Luhn-valid digit run glued to its letters about once in a
# few hundred, and a log line that mangled it could no longer vouch for the chain.
_HEX_DIGEST = re.compile(r"(?<![0-9A-Za-z])[0-9a-f]{32,}(?![0-9A-Za-z])")


def redact_card_numbers_in_log(text: str) -> str:
    """`redact_card_numbers` for a log line, whose hex digests are kept whole: what stands
    apart from them is scrubbed as everywhere."""
    parts, last = [], 0
    for digest in _HEX_DIGEST.finditer(text):
        parts += [redact_card_numbers(text[last:digest.start()]), digest.group(0)]
        last = digest.end()
    parts.append(redact_card_numbers(text[last:]))
    return "".join(parts)


def holds_card_number(value: Any, key: str = "") -> bool:
    """True when `redact` would remove a card number from `value` (a decoded JSON document)."""
    if isinstance(value, Mapping):
        return any(has_card_number(str(k)) or holds_card_number(v, str(k))
                   for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(holds_card_number(v) for v in value)
    if isinstance(value, str):
        return redact_card_numbers(value, identifier=is_identifier_key(key)) != value
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10**12:
        return contains_card_number([str(abs(value))])
    return False


def is_identifier_key(key: str) -> bool:
    return key.lower() in _HEX_IDENTIFIER_KEYS


def has_card_number(text: str) -> bool:
    """True when `text` holds something a PCI DSS scanner would take for a card number."""
    return redact_card_numbers(text) != text


def card_safe_id(prefix: str, length: int = 32) -> str:
    """A random identifier `prefix_<hex>` that no card-number scan mistakes for one (a hex
    string has a long Luhn-valid digit run about once in a few hundred draws)."""
    while True:
        candidate = f"{prefix}_{secrets.token_hex(16)[:length]}"
        if not has_card_number(candidate):
            return candidate


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


# Keys come from a small vocabulary (every provider's field names) and every evidence
# record, log line and stored payload asks again: remembered, not searched each time.
@functools.lru_cache(maxsize=4096)
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
                     else redact_card_numbers(v, identifier=True)
                     if isinstance(v, str) and is_identifier_key(str(k))
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
