"""The analytics settings: the services as a list (the older single name still read), each
service's credentials required when it is on, the pseudonym keys and where consent is
needed."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from adapters.analytics.keys import analytics_policy
from adapters.analytics_settings import ANALYTICS_PROVIDERS
from adapters.settings import PROVIDER_CHOICES
from tests.unit.settings_steps import settings

pytestmark = pytest.mark.usefixtures("no_mall_environment")


def test_the_log_is_the_default_and_the_older_setting_still_chooses() -> None:
    assert settings().analytics_providers == ["log"]
    assert settings(analytics_provider="segment",
                    segment_write_key="wk").analytics_providers == ["segment"]
    both = settings(analytics_provider="log", analytics_providers=["log", "segment"],
                    segment_write_key="wk")
    assert both.analytics_providers == ["log", "segment"]  # the list wins
    assert sorted(PROVIDER_CHOICES["analytics_providers"]) == sorted(ANALYTICS_PROVIDERS)


@pytest.mark.parametrize(("values", "message"), [
    ({"analytics_providers": ["segment"]}, "MALL_SEGMENT_WRITE_KEY"),
    ({"analytics_providers": ["ga4"], "ga4_measurement_id": "G-1"}, "MALL_GA4_API_SECRET"),
    ({"analytics_provider": "mixpanel"}, "allowed: ga4, log, segment"),
    ({"analytics_providers": ["log", "mixpanel"]}, "allowed: ga4, log, segment"),
    ({"analytics_pseudonym_keys": {"k1": "x" * 32}, "analytics_pseudonym_key_id": "k2"},
     "not a key of MALL_ANALYTICS_PSEUDONYM_KEYS"),
    ({"analytics_pseudonym_keys": {"k1": "short"}}, "at least 32 characters"),
    ({"analytics_opt_in_jurisdictions": ["EU", "Mars"]}, "unknown jurisdiction"),
    ({"analytics_max_attempts": 0}, "at least 1"),
])
def test_unusable_analytics_settings_fail_at_start(values: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        settings(**values)


def test_the_pseudonym_keys_rotate_by_id() -> None:
    default = analytics_policy({}, "", "p" * 40, ["EU"])
    assert default.keys.current == "default" and default.opt_in == frozenset({"EU"})
    ring = {"2025": "a" * 32, "2026": "b" * 32}
    first = analytics_policy(ring, "", "p" * 40, [])
    rotated = analytics_policy(ring, "2026", "p" * 40, [])
    assert first.keys.current == "2025" and rotated.keys.current == "2026"
    assert first.keys.hash("cus_1") != rotated.keys.hash("cus_1")
