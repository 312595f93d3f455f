"""A verified webhook, as every provider port hands it over."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class InboundEvent:
    """A verified webhook: the provider's own event id and its parsed body."""

    event_id: str
    kind: str
    payload: dict[str, Any]
