"""A provider of one channel, in memory: it keeps what it was given, can be down (`error`)
and can refuse given addresses for good, as real providers do."""

from __future__ import annotations

from application.ports import Envelope, SendReceipt
from domain.errors import RecipientRejected
from tests.fakes.breakable import Breakable


class FakeChannelSender(Breakable):
    def __init__(self, name: str, channel: str, status: str = "queued") -> None:
        self.name, self.channel, self._status = name, channel, status
        self.sent: list[Envelope] = []
        self.calls = 0
        self.refusals: dict[str, str] = {}  # address -> RecipientRejected reason

    async def send(self, envelope: Envelope) -> SendReceipt:
        self.calls += 1
        self._fail_if_told()
        reason = self.refusals.get(envelope.to)
        if reason:
            raise RecipientRejected(f"{self.name} will not deliver there", reason=reason)
        self.sent.append(envelope)
        return SendReceipt(self.name, f"{self.name}-{len(self.sent)}", self._status)
