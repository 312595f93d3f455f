"""The stand-ins for real providers and templates: the notifier as every channel's provider,
the console's texts as the last renderer."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from adapters.messaging.console_sender import (
    ConsoleTemplateRenderer,
    FallbackRenderer,
    NotifierSender,
)
from application.ports import Envelope, Notification, RenderedMessage, SendReceipt

ENVELOPE = Envelope("msg_1", "email", "ada@example.com", RenderedMessage("Hi", "Hello"),
                    template="verify_email", params={"link": "https://m/verify?token=t"})


class Recording:
    def __init__(self) -> None:
        self.sent: list[Notification] = []

    async def send(self, notification: Notification) -> None:
        self.sent.append(notification)


class Keeping(Recording):
    def __init__(self) -> None:
        super().__init__()
        self.kept: list[Envelope] = []

    async def keep(self, envelope: Envelope) -> SendReceipt:
        self.kept.append(envelope)
        return SendReceipt("mailbox", "mbx_1")


async def test_a_notifier_gets_the_template_and_its_parameters() -> None:
    notifier = Recording()
    receipt = await NotifierSender(notifier, "email").send(ENVELOPE)
    [sent] = notifier.sent
    assert (sent.recipient, sent.template, sent.params["link"]) == (
        "ada@example.com", "verify_email", "https://m/verify?token=t")
    assert (receipt.provider, receipt.provider_message_id) == ("mailbox", "mailbox-msg_1")


async def test_a_mailbox_keeps_the_whole_rendered_message() -> None:
    mailbox = Keeping()
    receipt = await NotifierSender(mailbox, "email").send(ENVELOPE)
    assert mailbox.kept == [ENVELOPE] and not mailbox.sent
    assert receipt.provider_message_id == "mbx_1"


class Refusing:
    def __init__(self, error: Exception) -> None:
        self.error = error

    def render(self, template: str, channel: str, language: str,
               params: Mapping[str, Any]) -> RenderedMessage:
        raise self.error

    def version(self, template: str) -> str:
        raise self.error


@pytest.mark.parametrize("error", [LookupError("no template"), ValueError("needs order_id")])
def test_the_console_words_stand_in_for_a_template_that_cannot_write_the_message(
        error: Exception) -> None:
    renderer = FallbackRenderer(Refusing(error), ConsoleTemplateRenderer())
    message = renderer.render("order_paid", "email", "ko", {"order_id": "ord_1"})
    assert "ord_1" in message.text and message.subject


def test_the_version_is_the_console_s_for_a_template_nobody_wrote() -> None:
    renderer = FallbackRenderer(Refusing(LookupError("no template")), ConsoleTemplateRenderer())
    assert renderer.version("hello") == "console-1"


def test_the_consent_reminder_is_written_in_both_languages() -> None:
    renderer = ConsoleTemplateRenderer()
    params = {"purpose": "marketing_sms", "granted_at": "2024-12-01T09:00:00+00:00",
              "unsubscribe_url": "https://m/v1/unsubscribe/t"}
    korean = renderer.render("consent_reminder", "email", "ko", params)
    english = renderer.render("consent_reminder", "email", "en", params)
    assert "광고성 문자" in korean.text and "2024-12-01" in korean.text
    assert "text message" in english.text and english.text.endswith("https://m/v1/unsubscribe/t")
