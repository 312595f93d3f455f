"""The console notifier as a provider of every channel, and a renderer over its one-line
texts: what stands in for real providers and templates until they are configured.

The notifier keeps each message with its template and parameters, so a developer or a test
can follow an emailed link (`last_link`)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from adapters.messaging.console import render
from application.ports import (
    Envelope,
    Notification,
    Notifier,
    RenderedMessage,
    SendReceipt,
    TemplateRenderer,
)

log = logging.getLogger("mall.notify")


class NotifierSender:
    """A ChannelSender that hands each envelope to a Notifier (which may raise
    ProviderUnavailable, like any provider)."""

    def __init__(self, notifier: Notifier, channel: str, name: str = "mailbox") -> None:
        self.notifier, self.channel, self.name = notifier, channel, name

    async def send(self, envelope: Envelope) -> SendReceipt:
        await self.notifier.send(Notification(envelope.channel, envelope.to, envelope.template,
                                              dict(envelope.params)))
        return SendReceipt(self.name, f"{self.name}-{envelope.message_id}", "sent")


class ConsoleTemplateRenderer:
    """The console's one-line English texts, whatever the language and channel."""

    def render(self, template: str, channel: str, language: str,
               params: Mapping[str, Any]) -> RenderedMessage:
        text = render(Notification(channel, "", template, dict(params)))
        return RenderedMessage(subject=text.split(". ", 1)[0][:120], text=text)

    def version(self, template: str) -> str:
        return "console-1"


class FallbackRenderer:
    """The first renderer that can write the message: the last one answers for any other
    (a template nobody wrote yet, or one missing a parameter it needs: logged)."""

    def __init__(self, *renderers: TemplateRenderer) -> None:
        self._renderers = renderers

    def render(self, template: str, channel: str, language: str,
               params: Mapping[str, Any]) -> RenderedMessage:
        for renderer in self._renderers[:-1]:
            try:
                return renderer.render(template, channel, language, params)
            except LookupError:
                continue
            except ValueError as exc:
                log.warning("message %s not rendered by its template: %s", template, exc)
        return self._renderers[-1].render(template, channel, language, params)

    def version(self, template: str) -> str:
        for renderer in self._renderers[:-1]:
            try:
                return renderer.version(template)
            except LookupError:
                continue
        return self._renderers[-1].version(template)
