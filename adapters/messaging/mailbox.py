"""The dev mailbox: on the embedded default every email, SMS and push the mall would send is
kept here instead of reaching anyone, so a developer can read it and follow its links.

Messages live in the `mailbox_message` table, so the web page, a worker process and a restart
all see the same mailbox (the newest `keep` are kept); this process's own sends are also kept
in memory for `last_link`, which tests call without awaiting. Shown at /sandbox/mailbox while
the sandbox is configured. The log names the recipient by a keyed hash and never shows a
body or a link.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import uuid
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from adapters.messaging.console import masked, render
from adapters.persistence import raw
from adapters.persistence.tables import MailboxMessage
from application.ports import (
    Clock,
    Envelope,
    Notification,
    RenderedMessage,
    SendReceipt,
    TemplateRenderer,
)
from domain.messages import Channel

PROVIDER = "mailbox"
_URL = re.compile(r"https?://[^\s<>\"')]+")


@dataclass(frozen=True)
class KeptMessage:
    """One message as the mailbox holds it."""

    id: str  # the receipt's provider message id
    message_id: str
    channel: str
    recipient: str
    template: str
    subject: str
    text: str
    html: str
    promotional: bool
    sent_at: datetime
    data: Mapping[str, str] = field(default_factory=dict)

    @property
    def links(self) -> list[str]:
        """Every URL in the text, in order (the text part is what every channel carries)."""
        return [url.rstrip(".,;:") for url in _URL.findall(self.text)]

    @property
    def link(self) -> str:
        """The link the message is about: the one the dispatcher named, else the first."""
        named = self.data.get("link", "")
        links = self.links
        return named or next((url for url in links if "token=" in url),
                             links[0] if links else "")


def _provider_id(envelope: Envelope) -> str:
    # The same envelope sent again (a retry) is the same message, as a real provider
    # deduplicating on our message id would have it.
    if not envelope.message_id:
        return f"mbx_{uuid.uuid4().hex[:24]}"
    key = f"{envelope.message_id}|{envelope.channel}|{envelope.to}".encode()
    return "mbx_" + hashlib.sha256(key).hexdigest()[:24]


def _kept(row: Mapping[str, Any]) -> KeptMessage:
    return KeptMessage(
        id=row["id"], message_id=row["message_id"], channel=row["channel"],
        recipient=row["recipient"], template=row["template"], subject=row["subject"],
        text=row["text"], html=row["html"], promotional=bool(row["promotional"]),
        sent_at=row["sent_at"], data=dict(row["data"] or {}))


class DevMailbox:
    """Keeps what would have been sent; `sender(channel)` is its ChannelSender per channel.
    It writes to the mall's own database (`in_process`): a sender of it is called within
    the unit of work that records the message sent."""

    in_process = True

    def __init__(self, clock: Clock, keep: int = 500, remember: int = 200,
                 renderer: TemplateRenderer | None = None) -> None:
        self._clock, self._keep, self._renderer = clock, keep, renderer
        # Older messages are pruned every tenth of `keep` messages, not after each one: the
        # mailbox holds up to 10 % more for a while, and a message costs one statement.
        self._prune_every, self._unpruned = max(1, keep // 10), 0
        self._log = logging.getLogger("mall.notify")
        self.sent: deque[KeptMessage] = deque(maxlen=remember)  # this process's, newest last

    def sender(self, channel: str) -> MailboxSender:
        return MailboxSender(self, Channel(channel).value)

    def senders(self) -> dict[str, MailboxSender]:
        return {channel.value: self.sender(channel.value) for channel in Channel}

    async def keep(self, envelope: Envelope) -> SendReceipt:
        """Keep the message; the same envelope again is kept once."""
        data = dict(envelope.data)
        # The dispatcher says what the message was rendered from; its link is the one
        # `last_link` answers.
        template = envelope.template or data.get("template", "")
        link = envelope.params.get("link")
        if link:
            data["link"] = str(link)
        message = KeptMessage(
            id=_provider_id(envelope), message_id=envelope.message_id, channel=envelope.channel,
            recipient=envelope.to, template=template, subject=envelope.content.subject,
            text=envelope.content.text, html=envelope.content.html,
            promotional=envelope.promotional, sent_at=self._clock.now(), data=data)
        await self._store(message)
        return SendReceipt(PROVIDER, message.id, "sent")

    async def send(self, notification: Notification) -> None:
        """The Notifier port, for what the dispatcher does not render (sellers' notices):
        written with the templates in English when there are some, else in the console's
        words."""
        content = self._notice(notification)
        link = str(notification.params.get("link", ""))
        await self._store(KeptMessage(
            id=f"mbx_{uuid.uuid4().hex[:24]}", message_id="", channel=notification.channel,
            recipient=notification.recipient, template=notification.template,
            subject=content.subject, text=content.text, html=content.html, promotional=False,
            sent_at=self._clock.now(), data={"link": link} if link else {}))

    def _notice(self, notification: Notification) -> RenderedMessage:
        if self._renderer is not None:
            try:
                return self._renderer.render(notification.template, notification.channel,
                                             "en", notification.params)
            except (LookupError, ValueError):
                pass  # no template, or not the parameters it needs: the console's line
        text = render(notification)
        return RenderedMessage(subject=text.split(". ", 1)[0][:120], text=text)

    async def _store(self, message: KeptMessage) -> None:
        # Gathered on PostgreSQL with the writes of the unit of work running, if any: the
        # dispatcher records the outcome in the same commit (see `in_process`).
        await raw.insert(MailboxMessage(
            id=message.id, message_id=message.message_id, channel=message.channel,
            recipient=message.recipient, template=message.template, subject=message.subject,
            text=message.text, html=message.html, promotional=message.promotional,
            data=json.dumps(dict(message.data)), sent_at=message.sent_at,
        ), keep_existing=True)
        self._unpruned += 1
        if self._unpruned >= self._prune_every:
            self._unpruned = 0
            await self._prune()
        self.sent.append(message)
        self._log.info("%s to %s [%s] kept in the dev mailbox (/sandbox/mailbox): %s",
                       message.channel, masked(message.recipient), message.template or "-",
                       message.id)

    async def _prune(self) -> None:
        m = MailboxMessage
        oldest_kept = await m.select(m.sent_at).order_by(m.sent_at, ascending=False).offset(
            self._keep - 1).limit(1).first()
        if oldest_kept is not None:
            await m.delete().where(m.sent_at < oldest_kept["sent_at"])

    def last_link(self, recipient: str, template: str) -> str | None:
        """The link in the latest `template` message this process sent to `recipient`."""
        for message in reversed(self.sent):
            if message.recipient == recipient and message.template == template:
                return message.link or None
        return None

    async def messages(self, recipient: str = "", template: str = "",
                       limit: int = 50) -> list[KeptMessage]:
        """What every process kept, newest first."""
        m = MailboxMessage
        query = m.select().order_by(m.sent_at, ascending=False).order_by(
            m.id, ascending=False).limit(limit)
        if recipient:
            query = query.where(m.recipient == recipient)
        if template:
            query = query.where(m.template == template)
        return [_kept(row) for row in await query.output(load_json=True)]

    async def find_link(self, recipient: str, template: str) -> str | None:
        """The link in the latest `template` message to `recipient`, whoever sent it."""
        found = await self.messages(recipient, template, limit=1)
        return (found[0].link or None) if found else None


class MailboxSender:
    """The dev mailbox as one channel's provider: it never refuses and never fails."""

    in_process = True

    def __init__(self, mailbox: DevMailbox, channel: str) -> None:
        self.name, self.channel = PROVIDER, channel
        self._mailbox = mailbox

    async def send(self, envelope: Envelope) -> SendReceipt:
        return await self._mailbox.keep(envelope)
