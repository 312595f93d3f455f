"""Drift: a provider's answer that no longer matches what the mall relies on.

Each contract pins, for one kind of answer of one provider at one API version, the fields
we read and the values we know for the fields we branch on. An answer missing a field, a
value we do not know, or a `Deprecation` / `Sunset` header (RFC 9745, RFC 8594: the
provider announces the end of what we call) is drift: found before it breaks a purchase.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

MISSING = object()


@dataclass(frozen=True)
class ResponseContract:
    provider: str
    api_version: str
    method: str
    path: str  # a regular expression the whole request path matches
    required: tuple[str, ...] = ()  # dotted paths into the JSON answer
    known_values: Mapping[str, frozenset[str]] = field(default_factory=dict)

    def matches(self, provider: str, method: str, path: str) -> bool:
        return (provider == self.provider and method.upper() == self.method
                and re.fullmatch(self.path, path) is not None)


@dataclass(frozen=True)
class Drift:
    kind: str  # "missing_field" | "unknown_value" | "deprecation" | "sunset"
    where: str  # the field, or the header
    value: str = ""  # the unknown value, or what the header says

    @property
    def signature(self) -> str:
        """The same drift seen again has the same signature (one incident, not one a call)."""
        return f"{self.kind}:{self.where}:{self.value}"[:160]


def lookup(document: Any, dotted: str) -> Any:
    for part in dotted.split("."):
        if not isinstance(document, Mapping) or part not in document:
            return MISSING
        document = document[part]
    return document


def drifts_in(contracts: Iterable[ResponseContract], provider: str, method: str, path: str,
              headers: Mapping[str, str], body: Any) -> list[Drift]:
    """What drifted in one successful answer: announced ends (any answer of the provider),
    and, where a contract covers the request, missing fields and values we do not know."""
    found: list[Drift] = []
    lowered = {name.lower(): value for name, value in headers.items()}
    for header in ("deprecation", "sunset"):
        if header in lowered:
            found.append(Drift(header, header.title(), str(lowered[header])[:80]))
    for contract in contracts:
        if not contract.matches(provider, method, path):
            continue
        for dotted in contract.required:
            if lookup(body, dotted) is MISSING:
                found.append(Drift("missing_field", dotted))
        for dotted, known in contract.known_values.items():
            value = lookup(body, dotted)
            if value is not MISSING and value is not None and str(value) not in known:
                found.append(Drift("unknown_value", dotted, str(value)[:80]))
    return found
