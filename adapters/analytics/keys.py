"""The analytics policy from the settings: the pseudonym keys by id and where an opt-in is
required."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from application.analytics import AnalyticsPolicy
from domain.analytics_privacy import PseudonymKeys

DEFAULT_KEY_ID = "default"


def analytics_policy(keys: Mapping[str, str], key_id: str, pseudonym_key: str,
                     opt_in: Iterable[str]) -> AnalyticsPolicy:
    """Without keys of its own, analytics hashes with MALL_PSEUDONYM_KEY (id "default"), as
    every pseudonymous id of the mall did before keys could rotate."""
    ring = {kid: key.encode() for kid, key in keys.items()} or {
        DEFAULT_KEY_ID: pseudonym_key.encode()}
    current = key_id or next(iter(ring))
    return AnalyticsPolicy(PseudonymKeys(ring, current), frozenset(opt_in))
