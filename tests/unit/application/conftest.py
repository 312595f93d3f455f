"""The `mall` fixture: the production container wired to in-memory fakes (harness.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.unit.application.harness import Mall, build_mall


@pytest.fixture
async def mall(tmp_path: Path) -> AsyncIterator[Mall]:
    mall = build_mall(tmp_path)
    yield mall
    mall.container.unwire()
    mall.container.reset_override()
