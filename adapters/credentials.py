"""Providers' credentials in force, as the adapters read them: from the registry when a
value was rotated in (domain/provider_credentials.py), else from the settings.

Each process keeps what is in force in memory and reads the registry again once it is a
few seconds old, on the next use (in the background: a signature check never waits on the
database), and at once after a change it made itself. A change made anywhere so takes
effect everywhere within `max_age` seconds, without a restart.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import time
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any, overload

from application.ports import UnitOfWorkFactory
from application.ports.security import DataCipher
from application.provider_credentials import sealing_context
from domain.provider_credentials import CredentialKind, CredentialStatus

log = logging.getLogger("mall.providers")


class CredentialsInForce:
    def __init__(self, uow: UnitOfWorkFactory, cipher: DataCipher, max_age: float = 5.0) -> None:
        self._uow, self._cipher, self._max_age = uow, cipher, max_age
        # (provider, kind) -> [(value, accepted until or None)], the active one first
        self._values: dict[tuple[str, str], list[tuple[str, datetime | None]]] = {}
        # (provider, kind) -> until when the settings' values are still accepted (a webhook
        # secret's first rotation overlaps with the configured secret)
        self._settings_until: dict[tuple[str, str], datetime | None] = {}
        self._read_at = float("-inf")
        self._reading: asyncio.Task[None] | None = None

    async def refresh(self) -> None:
        async with self._uow(read_only=True) as uow:
            rows = await uow.credentials.in_force()
        values: dict[tuple[str, str], list[tuple[str, datetime | None]]] = {}
        settings_until: dict[tuple[str, str], datetime | None] = {}
        # the active one first: it is what our calls use and what signs first
        for credential, sealed in sorted(
                rows, key=lambda pair: pair[0].status != CredentialStatus.ACTIVE):
            key = (credential.provider, credential.kind.value)
            value = self._cipher.open(sealed, sealing_context(credential.provider,
                                                              credential.kind))
            values.setdefault(key, []).append((value, credential.retire_at))
            if credential.status == CredentialStatus.ACTIVE:
                settings_until[key] = credential.settings_until
        self._values, self._settings_until = values, settings_until
        self._read_at = time.monotonic()

    def values(self, provider: str, kind: CredentialKind,
               configured: Sequence[str] = ()) -> list[str]:
        """What is in force now: the rotated values, and the `configured` ones (the
        settings') while nothing was rotated in or during the first rotation's overlap."""
        if time.monotonic() - self._read_at > self._max_age:
            self._read_in_background()
        key, now = (provider, kind.value), datetime.now(UTC)
        rotated = [value for value, until in self._values.get(key, ())
                   if until is None or until > now]
        if not rotated:
            return list(configured)
        until = self._settings_until.get(key)
        return rotated + (list(configured) if until is not None and until > now else [])

    def _read_in_background(self) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # no loop (a CLI check): the last values stand
        if self._reading is not None and not self._reading.done():
            return
        # A context of its own: no transaction of the caller's is carried into it.
        self._reading = loop.create_task(self._refresh_quietly(),
                                         context=contextvars.Context())

    async def _refresh_quietly(self) -> None:
        try:
            await self.refresh()
        except Exception as exc:  # the values in memory stand until the next try
            log.warning("could not read the credentials in force: %s", type(exc).__name__)
            self._read_at = time.monotonic()


class LiveSecrets(Sequence[str]):
    """A provider's webhook secrets (or API keys) in force: what a rotation put in force,
    else the configured ones. Read as a list each time it is iterated."""

    def __init__(self, registry: CredentialsInForce, provider: str, kind: CredentialKind,
                 configured: Sequence[str]) -> None:
        self._registry, self._provider, self._kind = registry, provider, kind
        self._configured = list(configured)

    def _current(self) -> list[str]:
        return self._registry.values(self._provider, self._kind, self._configured)

    @overload
    def __getitem__(self, index: int) -> str: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[str]: ...

    def __getitem__(self, index: Any) -> Any:
        return self._current()[index]

    def __len__(self) -> int:
        return len(self._current())

    def __iter__(self) -> Iterator[str]:
        return iter(self._current())


class LiveSetting:
    """One value (an API key, an endpoint) in force: the rotated one, else the setting."""

    def __init__(self, registry: CredentialsInForce, provider: str, kind: CredentialKind,
                 configured: str) -> None:
        self._registry, self._provider, self._kind = registry, provider, kind
        self._configured = configured

    def get(self) -> str:
        values = self._registry.values(self._provider, self._kind)
        return values[0] if values else self._configured

    def __str__(self) -> str:
        return self.get()
