"""How the sandbox providers call us back: signed webhooks over real HTTP, retried the way
real providers retry, fired in the background so the caller does not wait."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Coroutine
from typing import Any

from adapters.http import OutboundHttp
from adapters.signing import sign
from domain.errors import ProviderUnavailable

log = logging.getLogger("mall.sandbox")


class SandboxWebhookSender:
    def __init__(
        self, http: OutboundHttp, provider: str, url: str, secret: str, header: str,
        attempts: int = 5,
    ) -> None:
        self._http, self._provider, self._url = http, provider, url
        self._secret, self._header, self._attempts = secret, header, attempts
        self._tasks: set[asyncio.Task[None]] = set()

    def schedule(self, delays_and_events: list[tuple[float, dict[str, Any]]]) -> None:
        """Send each event after its delay (seconds from now), in order."""
        self.spawn(self._run(delays_and_events))

    def spawn(self, work: Coroutine[Any, Any, Any]) -> None:
        """Run provider-side work in the background, as the provider's own servers would."""
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(self, delays_and_events: list[tuple[float, dict[str, Any]]]) -> None:
        waited = 0.0
        for delay, event in delays_and_events:
            await asyncio.sleep(max(0.0, delay - waited))
            waited = delay
            await self.deliver(event)

    async def deliver(self, event: dict[str, Any]) -> bool:
        body = json.dumps(event, separators=(",", ":")).encode()
        subject = f"order:{event.get('data', {}).get('order_id', 'unknown')}"
        for attempt in range(self._attempts):
            headers = {"Content-Type": "application/json", self._header: sign(self._secret, body)}
            try:
                response = await self._http.request(
                    self._provider, "POST", self._url, subject=subject, content=body,
                    headers=headers, idempotent=False,
                )
                if 200 <= response.status < 300:
                    return True
            except ProviderUnavailable:
                pass
            await asyncio.sleep(min(0.5 * 2 ** attempt, 8))
        log.warning("sandbox %s gave up delivering event %s", self._provider, event.get("id"))
        return False
