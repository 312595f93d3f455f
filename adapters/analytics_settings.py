"""The settings of analytics: the services events go to and the tracking plan."""

from __future__ import annotations

from pydantic_settings import BaseSettings


class AnalyticsSettings(BaseSettings):
    """Part of `adapters.settings.Settings`: analytics services and their batching."""
