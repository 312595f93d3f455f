"""The log as an analytics destination (the default): each event one JSON line on the
`mall.analytics` logger, pseudonymous ids only."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence

from application.ports import AnalyticsEvent
from application.ports.analytics import BatchReceipt


class LogDestination:
    name = "log"
    batch_size = 200

    def __init__(self) -> None:
        self._log = logging.getLogger("mall.analytics")

    async def send_batch(self, events: Sequence[AnalyticsEvent]) -> BatchReceipt:
        for event in events:
            self._log.info("%s", json.dumps({
                "event": event.name, "anonymousId": event.anonymous_id,
                "messageId": event.message_id, "timestamp": event.occurred_at.isoformat(),
                "properties": event.properties, "keyId": event.key_id,
            }, sort_keys=True, default=str))
        return BatchReceipt()
