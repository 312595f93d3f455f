"""The one privacy filter every analytics event passes, from the storefront or the server, and
the consent analytics needs.

- No personal data: a property named like personal data (email, phone, name, address, card
  number, ...) is withheld whatever its value; a text value that holds an email address, a
  card number (domain/redaction.py) or a phone number (nine digits or more in one run of
  digits, spaces, dots, dashes and brackets) is withheld whatever its name; a value that is
  not a plain scalar (a list, an object) is withheld, since it could carry anything.
- Pseudonymous ids: the customer and every `ref` property leave as a keyed hash, whatever
  their text (a hash keeps none of it). The key rotates: each key has an id, events name the
  key their ids were made with, and ids made under different keys cannot be linked.
- Consent: where the customer's jurisdiction requires an opt-in for analytics (the EU's
  ePrivacy rules, Korea's PIPA), nothing is sent without the `analytics` consent; elsewhere
  it is sent unless the customer said no.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from domain.privacy import pseudonym
from domain.redaction import holds_card_number

ANALYTICS_CONSENT = "analytics"
OPT_IN_JURISDICTIONS = frozenset({"EU", "KR"})

_PERSONAL_WORDS = ("email", "e_mail", "mail", "phone", "mobile", "tel", "name", "address",
                   "street", "city", "postal", "postcode", "zip", "recipient", "card", "pan",
                   "cvc", "cvv", "birth", "ssn", "passport", "ip")
_WORD = re.compile(r"[a-z]+")
_EMAIL = re.compile(r"[^\s@]+@[^\s@]+\.[^\s@]+")
_DIGIT_RUN = re.compile(r"[0-9][0-9 .()\-/+]*[0-9]")
PHONE_DIGITS = 9


def personal_key(key: str) -> bool:
    """A property name that says it holds personal data (`email`, `shippingAddress`,
    `first_name`, `card_number`, ...)."""
    spaced = re.sub(r"([a-z])([A-Z])", r"\1_\2", key).lower()
    words = _WORD.findall(spaced)
    joined = "_".join(words)
    return any(word in _PERSONAL_WORDS for word in words) or any(
        personal in joined for personal in ("email", "phone", "address", "card_number"))


def personal_value(value: str) -> str:
    """What personal data `value` holds ("email", "card number", "phone"), or ""."""
    if _EMAIL.search(value):
        return "email"
    if holds_card_number(value):
        return "card number"
    for run in _DIGIT_RUN.findall(value):
        if sum(char.isdigit() for char in run) >= PHONE_DIGITS:
            return "phone"
    return ""


@dataclass(frozen=True)
class PseudonymKeys:
    """The keys analytics ids are hashed with, by key id; `current` hashes new events. Add a
    key and make it current to rotate: ids from then on are unlinkable to the earlier ones."""

    keys: Mapping[str, bytes]
    current: str

    def __post_init__(self) -> None:
        if self.current not in self.keys:
            raise ValueError(f"the current analytics key {self.current!r} is not among the "
                             f"keys ({', '.join(sorted(self.keys))})")

    def hash(self, identifier: str) -> str:
        return pseudonym(identifier, self.keys[self.current], purpose="analytics")


@dataclass(frozen=True)
class Screened:
    """An event's properties fit to leave: `withheld` names each property left out and why."""

    properties: dict[str, Any]
    withheld: dict[str, str]


def screen(properties: Mapping[str, Any], *, refs: Iterable[str],
           keys: PseudonymKeys) -> Screened:
    """The privacy filter: `properties` without personal data, the `refs` hashed."""
    kept: dict[str, Any] = {}
    withheld: dict[str, str] = {}
    ref_keys = set(refs)
    for key, value in properties.items():
        if personal_key(key):
            withheld[key] = "personal data by its name"
        elif value is not None and not isinstance(value, str | int | float | bool):
            withheld[key] = "not a plain value"
        elif key in ref_keys and value is not None:
            # Our ids (random hex, digit runs and all) leave only as a keyed hash.
            kept[key] = keys.hash(str(value))
        elif isinstance(value, str) and (found := personal_value(value)):
            withheld[key] = f"holds a {found}"
        elif holds_card_number(value):
            withheld[key] = "holds a card number"
        else:
            kept[key] = value
    return Screened(kept, withheld)


def consent_required(jurisdiction: str,
                     opt_in: Iterable[str] = OPT_IN_JURISDICTIONS) -> bool:
    return jurisdiction in set(opt_in)


def may_track(jurisdiction: str, consents: Mapping[str, bool],
              opt_in: Iterable[str] = OPT_IN_JURISDICTIONS) -> bool:
    """Whether this customer's events may be sent: with the analytics opt-in where the
    jurisdiction requires one, unless they refused it elsewhere."""
    if consent_required(jurisdiction, opt_in):
        return consents.get(ANALYTICS_CONSENT) is True
    return consents.get(ANALYTICS_CONSENT, True) is not False
