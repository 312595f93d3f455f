"""Log lines lose card numbers but keep hex digests whole (a checkpoint's hash must be
quotable word for word)."""

from __future__ import annotations

import hashlib
import itertools

from domain.redaction import (
    CARD_PLACEHOLDER,
    has_card_number,
    redact_card_numbers,
    redact_card_numbers_in_log,
)


def _digest_with_a_card_like_run() -> str:
    for n in itertools.count():
        digest = hashlib.sha256(str(n).encode()).hexdigest()
        if has_card_number(digest):
            return digest
    raise AssertionError("unreachable")


def test_a_digest_holding_a_luhn_valid_run_is_kept_whole() -> None:
    digest = _digest_with_a_card_like_run()
    line = f'evidence checkpoint {{"seq":3,"head_hash":"{digest}"}}'
    assert CARD_PLACEHOLDER in redact_card_numbers(line)  # what the plain scan would do
    assert redact_card_numbers_in_log(line) == line


def test_card_numbers_beside_a_digest_are_still_removed() -> None:
    digest = _digest_with_a_card_like_run()
    for card in ("4242424242424242", "4242 4242 4242 4242", "card=4242-4242-4242-4242"):
        line = f"{digest} paid with {card} and {digest[:40]}"
        cleaned = redact_card_numbers_in_log(line)
        assert CARD_PLACEHOLDER in cleaned and "4242" not in cleaned
        assert cleaned.startswith(digest) and cleaned.endswith(digest[:40])


def test_short_hex_glued_to_a_card_number_is_not_a_digest() -> None:
    line = "ref abc4242424242424242def"  # 22 characters: no digest, scanned as ever
    assert redact_card_numbers_in_log(line) == redact_card_numbers(line) != line
