"""The settings of operator alerts: where incidents are sent, by severity."""

from __future__ import annotations

from pydantic_settings import BaseSettings


class AlertSettings(BaseSettings):
    """Part of `adapters.settings.Settings`: alert channels and escalation."""
