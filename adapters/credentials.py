"""Providers' credentials in force, as the adapters read them: from the registry when a
value was rotated in (domain/provider_credentials.py), else from the settings. Kept in
memory and read again when a few seconds old (adapters/refreshing.py): a signature check
never waits on the database, and a rotation takes effect without a restart.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from adapters.refreshing import LiveSequence, ReadAgainWhenOld
from application.ports import UnitOfWorkFactory
from application.ports.security import DataCipher
from application.provider_credentials import sealing_context
from domain.provider_credentials import CredentialKind, CredentialStatus


class CredentialsInForce(ReadAgainWhenOld):
    def __init__(self, uow: UnitOfWorkFactory, cipher: DataCipher, max_age: float = 5.0) -> None:
        super().__init__(max_age)
        self._uow, self._cipher = uow, cipher
        # (provider, kind) -> [(value, accepted until or None)], the active one first
        self._values: dict[tuple[str, str], list[tuple[str, datetime | None]]] = {}
        # (provider, kind) -> until when the settings' values are still accepted (a webhook
        # secret's first rotation overlaps with the configured secret)
        self._settings_until: dict[tuple[str, str], datetime | None] = {}

    async def _read(self) -> None:
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

    def values(self, provider: str, kind: CredentialKind,
               configured: Sequence[str] = ()) -> list[str]:
        """What is in force now: the rotated values, and the `configured` ones (the
        settings') while nothing was rotated in or during the first rotation's overlap."""
        self._fresh_enough()
        key, now = (provider, kind.value), datetime.now(UTC)
        rotated = [value for value, until in self._values.get(key, ())
                   if until is None or until > now]
        if not rotated:
            return list(configured)
        until = self._settings_until.get(key)
        return rotated + (list(configured) if until is not None and until > now else [])


class LiveSecrets(LiveSequence[str]):
    """A provider's webhook secrets (or API keys) in force: what a rotation put in force,
    else the configured ones. Read as a list each time it is iterated."""

    def __init__(self, registry: CredentialsInForce, provider: str, kind: CredentialKind,
                 configured: Sequence[str]) -> None:
        self._registry, self._provider, self._kind = registry, provider, kind
        self._configured = list(configured)

    def _current(self) -> list[str]:
        return self._registry.values(self._provider, self._kind, self._configured)


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
