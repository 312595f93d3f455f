"""Fixtures the unit tests may ask for."""

from __future__ import annotations

import os

import pytest


@pytest.fixture
def no_mall_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No MALL_* variable of the machine running the tests reaches the settings."""
    for name in list(os.environ):
        if name.startswith("MALL_"):
            monkeypatch.delenv(name)
