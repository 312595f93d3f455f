"""How a customer is reached besides their email: a mobile number, a language and a time
zone, each optional. Defaults follow the customer's jurisdiction."""

from __future__ import annotations

import re
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from domain.errors import DomainError

LANGUAGES = ("en", "ko")
_E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")


def valid_phone(phone: str) -> str:
    """An E.164 number (+821012345678), spaces and dashes dropped; "" clears it."""
    compact = re.sub(r"[\s\-().]", "", phone)
    if compact and not _E164.match(compact):
        raise DomainError("phone must be in international form, e.g. +821012345678")
    return compact


def valid_language(language: str) -> str:
    if language and language not in LANGUAGES:
        raise DomainError(f"language must be one of {', '.join(LANGUAGES)}")
    return language


def valid_time_zone(name: str) -> str:
    if name and name not in available_timezones():
        raise DomainError("time_zone must be an IANA time zone such as Asia/Seoul")
    return name


def language_of(language: str, jurisdiction: str) -> str:
    """The language messages are written in: the customer's choice, else Korean in Korea."""
    return language or ("ko" if jurisdiction == "KR" else "en")


def time_zone_of(name: str, jurisdiction: str) -> ZoneInfo:
    """The customer's clock: their choice, else Korea's in Korea, else UTC."""
    try:
        return ZoneInfo(name or ("Asia/Seoul" if jurisdiction == "KR" else "UTC"))
    except ZoneInfoNotFoundError:
        return ZoneInfo("UTC")
