"""Pseudonymous identifiers for anything that leaves the mall."""

from __future__ import annotations

import re

from domain.privacy import pseudonym

KEY = b"k" * 32


def test_pseudonym_is_stable() -> None:
    first = pseudonym("c-12345", KEY, purpose="analytics")
    assert first == pseudonym("c-12345", KEY, purpose="analytics")
    assert re.fullmatch(r"anon_[0-9a-f]{32}", first)


def test_pseudonym_differs_by_identifier_key_and_purpose() -> None:
    base = pseudonym("c-12345", KEY, purpose="analytics")
    assert pseudonym("c-12346", KEY, purpose="analytics") != base
    assert pseudonym("c-12345", b"j" * 32, purpose="analytics") != base
    assert pseudonym("c-12345", KEY, purpose="logs") != base


def test_pseudonym_does_not_contain_the_identifier() -> None:
    identifier = "alice@example.com"
    value = pseudonym(identifier, KEY, purpose="analytics")
    assert identifier not in value
    assert "alice" not in value
