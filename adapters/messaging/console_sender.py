"""The console notifier as a provider of every channel, and a renderer over its one-line
texts: what stands in for real providers and templates until they are configured.

The notifier keeps each message with its template and parameters, so a developer or a test
can follow an emailed link (`last_link`)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, Protocol, runtime_checkable

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


@runtime_checkable
class EnvelopeKeeper(Protocol):
    """A notifier that keeps whole rendered messages (the dev mailbox)."""

    async def keep(self, envelope: Envelope) -> SendReceipt: ...


class NotifierSender:
    """A ChannelSender that hands each envelope to the notifier (which may raise
    ProviderUnavailable, like any provider): whole, to one that keeps envelopes (the dev
    mailbox), else as a Notification (the console, the tests' fakes)."""

    def __init__(self, notifier: Notifier, channel: str, name: str = "mailbox") -> None:
        self.notifier, self.channel, self.name = notifier, channel, name
        # Sent within the unit of work recording the outcome when the notifier writes to
        # our own database (the dev mailbox), so both commit as one.
        self.in_process = bool(getattr(notifier, "in_process", False))

    async def send(self, envelope: Envelope) -> SendReceipt:
        if isinstance(self.notifier, EnvelopeKeeper):
            return await self.notifier.keep(envelope)
        await self.notifier.send(Notification(envelope.channel, envelope.to, envelope.template,
                                              dict(envelope.params)))
        return SendReceipt(self.name, f"{self.name}-{envelope.message_id}", "sent")


# Notices the console has no line for: (subject, text) by language.
NOTICES: dict[str, dict[str, tuple[str, str]]] = {
    "consent_reminder": {
        "en": ("Your consent to our offers",
               "On {granted_on} you agreed to receive {what}. Nothing changes if you still "
               "want them; to stop them: {unsubscribe_url}"),
        "ko": ("광고성 정보 수신동의 안내",
               "고객님은 {granted_on}에 {what} 수신에 동의하셨습니다. 계속 받으시려면 아무것도 "
               "하지 않으셔도 됩니다. 수신을 원하지 않으시면: {unsubscribe_url}"),
    },
}
WHAT = {"marketing_email": ("offers by email", "광고성 이메일"),
        "marketing_sms": ("offers by text message", "광고성 문자"),
        "marketing_push": ("offers as app notifications", "광고성 앱 푸시"),
        "marketing_night": ("offers at night (21:00 to 08:00)", "야간(21시~08시) 광고성 정보")}


class ConsoleTemplateRenderer:
    """The console's one-line English texts, whatever the channel; a few notices of its own
    in English and Korean."""

    def render(self, template: str, channel: str, language: str,
               params: Mapping[str, Any]) -> RenderedMessage:
        notice = NOTICES.get(template)
        if notice is not None:
            korean = language == "ko"
            subject, text = notice["ko" if korean else "en"]
            what = WHAT.get(str(params.get("purpose", "")), ("our offers", "광고성 정보"))
            values = {"granted_on": str(params.get("granted_at", ""))[:10],
                      "what": what[1 if korean else 0],
                      "unsubscribe_url": params.get("unsubscribe_url", "PUT /v1/me/consents")}
            return RenderedMessage(subject=subject, text=text.format(**values))
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
