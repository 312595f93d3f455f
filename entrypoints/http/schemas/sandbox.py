"""Answers of the sandbox providers' own pages."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from entrypoints.http.schemas.fields import Answer


class SandboxStatusOut(Answer):
    status: Literal["deposited", "authenticated", "disputed", "won", "lost"]


class SandboxTokenOut(Answer):
    token: str


class MailboxMessageOut(Answer):
    id: str
    message_id: str
    channel: Literal["email", "sms", "push"]
    to: str
    template: str
    subject: str
    text: str
    html: str
    link: str  # the link the message is about, if any
    links: list[str]
    promotional: bool
    sent_at: datetime


class MailboxOut(Answer):
    messages: list[MailboxMessageOut]  # newest first
