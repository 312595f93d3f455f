"""What the settings tests share: settings built from the given values alone (no .env file;
with the `no_mall_environment` fixture of tests/unit/conftest.py, no MALL_* variable of the
machine running the tests either)."""

from __future__ import annotations

from typing import Any

from adapters.settings import Settings


def settings(**values: Any) -> Settings:
    return Settings(_env_file=None, **values)
