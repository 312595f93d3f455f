"""Answers of the sandbox providers' own pages."""

from __future__ import annotations

from typing import Literal

from entrypoints.http.schemas.fields import Answer


class SandboxStatusOut(Answer):
    status: Literal["deposited", "authenticated", "disputed", "won", "lost"]


class SandboxTokenOut(Answer):
    token: str
