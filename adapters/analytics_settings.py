"""The settings of analytics: the services events go to, their credentials, the keys the
pseudonymous ids are hashed with, where consent is required, and the batching job."""

from __future__ import annotations

from datetime import timedelta
from typing import Self

from pydantic import field_validator, model_validator
from pydantic_settings import BaseSettings

from adapters.durations import Seconds
from domain.customers import JURISDICTIONS

# The services events can go to (adapters/settings.py's PROVIDER_CHOICES lists the same).
ANALYTICS_PROVIDERS = ("ga4", "log", "segment")


class AnalyticsSettings(BaseSettings):
    """Part of `adapters.settings.Settings`: analytics services and their batching."""

    # Every service each event goes to (each gets its own copy, retries and dead letters).
    analytics_providers: list[str] = ["log"]
    # Before MALL_ANALYTICS_PROVIDERS: the one service; still read when the list is not set.
    analytics_provider: str = ""
    segment_url: str = "https://api.segment.io"
    segment_write_key: str = ""
    ga4_url: str = "https://www.google-analytics.com"
    ga4_measurement_id: str = ""  # a web data stream's "G-..." id
    ga4_api_secret: str = ""  # a Measurement Protocol API secret of that stream
    # Keys of the pseudonymous ids sent to analytics, by key id, and the one hashing new
    # events; empty: MALL_PSEUDONYM_KEY under the id "default".
    analytics_pseudonym_keys: dict[str, str] = {}
    analytics_pseudonym_key_id: str = ""
    # Jurisdictions (KR, EU, default) whose customers' events need the analytics opt-in.
    analytics_opt_in_jurisdictions: list[str] = ["EU", "KR"]
    analytics_flush_interval_seconds: Seconds = timedelta(seconds=5)
    analytics_max_attempts: int = 10

    @field_validator("analytics_provider")
    @classmethod
    def _one_provider_known(cls, value: str) -> str:
        if value and value not in ANALYTICS_PROVIDERS:
            raise ValueError(f"unknown provider {value!r}; allowed: "
                             f"{', '.join(ANALYTICS_PROVIDERS)}")
        return value

    @field_validator("analytics_opt_in_jurisdictions")
    @classmethod
    def _jurisdictions_known(cls, value: list[str]) -> list[str]:
        unknown = sorted(set(value) - JURISDICTIONS)
        if unknown:
            raise ValueError(f"unknown jurisdiction(s) {', '.join(unknown)}; known: "
                             f"{', '.join(sorted(JURISDICTIONS))}")
        return value

    @model_validator(mode="after")
    def _analytics_usable(self) -> Self:
        if self.analytics_provider and "analytics_providers" not in self.model_fields_set:
            self.analytics_providers = [self.analytics_provider]
        if "segment" in self.analytics_providers and not self.segment_write_key:
            raise ValueError("segment is an analytics provider: set MALL_SEGMENT_WRITE_KEY")
        if "ga4" in self.analytics_providers and not (
                self.ga4_measurement_id and self.ga4_api_secret):
            raise ValueError("ga4 is an analytics provider: set MALL_GA4_MEASUREMENT_ID and "
                             "MALL_GA4_API_SECRET")
        key_id = self.analytics_pseudonym_key_id
        if key_id and key_id not in self.analytics_pseudonym_keys:
            raise ValueError(f"MALL_ANALYTICS_PSEUDONYM_KEY_ID={key_id!r} is not a key of "
                             "MALL_ANALYTICS_PSEUDONYM_KEYS")
        if any(len(key) < 32 for key in self.analytics_pseudonym_keys.values()):
            raise ValueError("MALL_ANALYTICS_PSEUDONYM_KEYS: each key is at least 32 characters "
                             "(e.g. python3 -c 'import secrets; print(secrets.token_urlsafe(32))')")
        if self.analytics_max_attempts < 1:
            raise ValueError("MALL_ANALYTICS_MAX_ATTEMPTS is at least 1")
        return self
