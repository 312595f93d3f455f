"""Rotating a provider's webhook secret or API key, or moving it to another endpoint, as a
workflow (domain/provider_credentials.py): propose, validate, activate with an overlap,
retire. Every step is evidence; a failed validation opens an incident and alerts, and
leaves what is in force as it was."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Protocol

from application.ports import Clock, TaskQueue, UnitOfWork, UnitOfWorkFactory
from application.ports.security import DataCipher
from application.transactions import new_id, open_incident
from domain.errors import DomainError, NotFound
from domain.evidence import EvidenceDraft
from domain.provider_credentials import (
    CredentialKind,
    CredentialStatus,
    ProviderCredential,
    fingerprint,
)


class CredentialChecker(Protocol):
    def supports(self, provider: str, kind: CredentialKind) -> bool: ...

    async def check(self, provider: str, kind: CredentialKind, value: str) -> str | None:
        """Why `value` cannot be used, or None when the provider (or its verifier) took it."""
        ...


def sealing_context(provider: str, kind: CredentialKind) -> str:
    return f"credential:{provider}:{kind.value}"


class ProviderCredentials:
    def __init__(self, uow: UnitOfWorkFactory, cipher: DataCipher, checker: CredentialChecker,
                 queue: TaskQueue, clock: Clock,
                 changed: Callable[[], Awaitable[None]]) -> None:
        self._uow, self._cipher, self._checker = uow, cipher, checker
        self._queue, self._clock, self._changed = queue, clock, changed

    async def propose(self, provider: str, kind: CredentialKind, value: str,
                      admin_id: str) -> ProviderCredential:
        if not self._checker.supports(provider, kind):
            raise DomainError(f"{provider} has no {kind.value} that can be rotated here")
        if not value.strip() or len(value) > 2000:
            raise DomainError("give the new value (at most 2000 characters)")
        async with self._uow() as uow:
            credential = ProviderCredential(
                id=new_id("crd"), provider=provider, kind=kind,
                version=await uow.credentials.next_version(provider, kind),
                fingerprint=fingerprint(value), status=CredentialStatus.PROPOSED,
                proposed_at=self._clock.now(), proposed_by=admin_id)
            credential.steps.append({"status": "proposed", "at": self._clock.now().isoformat(),
                                     "by": admin_id, "note": ""})
            await uow.credentials.add(credential, self._cipher.seal(
                value, sealing_context(provider, kind)))
            await self._evidence(uow, credential, "proposed")
            await uow.commit()
        return credential

    async def validate(self, credential_id: str, admin_id: str) -> ProviderCredential:
        credential, sealed = await self._get(credential_id)
        if credential.status != CredentialStatus.PROPOSED:
            raise DomainError(f"credential {credential_id} is {credential.status.value}; only "
                              "a proposed one is validated")
        value = self._cipher.open(sealed, sealing_context(credential.provider, credential.kind))
        # Outside any transaction: this may call the provider.
        reason = await self._checker.check(credential.provider, credential.kind, value)
        async with self._uow() as uow:
            found = await uow.credentials.get(credential_id)
            assert found is not None
            credential = found[0]
            now = self._clock.now()
            if reason is None:
                credential.validated(now, admin_id)
            else:
                credential.rejected(now, admin_id, reason)
                await open_incident(
                    uow, "credential_validation_failed", f"provider:{credential.provider}",
                    {"credential_id": credential.id, "provider": credential.provider,
                     "kind": credential.kind.value, "reason": reason[:300]},
                    severity="critical", source=credential.provider,
                    summary=f"a new {credential.provider} {credential.kind.value} failed its "
                            f"validation and was not put in force: {reason[:200]}")
            await uow.credentials.save(credential)
            await self._evidence(uow, credential, credential.status.value, reason or "")
            await uow.commit()
            new = list(uow.new_outbox_ids)
        if new:
            self._queue.dispatch_outbox(new)
        return credential

    async def activate(self, credential_id: str, admin_id: str,
                       overlap: timedelta) -> ProviderCredential:
        """Put it in force; the one it replaces is accepted for `overlap` more (a webhook
        secret: callbacks already signed with it), then retired."""
        async with self._uow() as uow:
            found = await uow.credentials.get(credential_id)
            if found is None:
                raise NotFound(f"credential {credential_id} not found")
            credential, now = found[0], self._clock.now()
            replaced = [c for c in await uow.credentials.of_provider(credential.provider)
                        if c.kind == credential.kind and c.status == CredentialStatus.ACTIVE]
            credential.activated(now, admin_id,
                                 replaces_settings=None if replaced else overlap)
            for old in replaced:
                old.replaced(now, overlap, admin_id)
                await uow.credentials.save(old)
                await self._evidence(uow, old, old.status.value)
            await uow.credentials.save(credential)
            await self._evidence(uow, credential, "activated")
            await uow.commit()
        await self._changed()
        return credential

    async def retire(self, credential_id: str, admin_id: str) -> ProviderCredential:
        """Stop accepting a replaced value before its overlap ends (or record that it has)."""
        async with self._uow() as uow:
            found = await uow.credentials.get(credential_id)
            if found is None:
                raise NotFound(f"credential {credential_id} not found")
            credential = found[0]
            if credential.status == CredentialStatus.ACTIVE:
                raise DomainError("the value in force is retired by activating its successor")
            credential.retired(self._clock.now(), admin_id)
            await uow.credentials.save(credential)
            await self._evidence(uow, credential, "retired")
            await uow.commit()
        await self._changed()
        return credential

    async def retire_due(self) -> int:
        """Record the retirement of the replaced values whose overlap is over."""
        now, retired = self._clock.now(), 0
        async with self._uow() as uow:
            for credential in await uow.credentials.retiring():
                if credential.due_to_retire(now):
                    credential.retired(now, "overlap ended")
                    await uow.credentials.save(credential)
                    await self._evidence(uow, credential, "retired")
                    retired += 1
            await uow.commit()
        return retired

    async def of_provider(self, provider: str) -> list[ProviderCredential]:
        async with self._uow(read_only=True) as uow:
            return await uow.credentials.of_provider(provider)

    async def _get(self, credential_id: str) -> tuple[ProviderCredential, str]:
        async with self._uow(read_only=True) as uow:
            found = await uow.credentials.get(credential_id)
        if found is None:
            raise NotFound(f"credential {credential_id} not found")
        return found

    @staticmethod
    async def _evidence(uow: UnitOfWork, credential: ProviderCredential, step: str,
                        reason: str = "") -> None:
        await uow.evidence.append(EvidenceDraft(
            source="admin", kind=f"credential.{step}", subject=f"provider:{credential.provider}",
            context={"credential_id": credential.id, "kind": credential.kind.value,
                     "version": credential.version},
            payload={"fingerprint": credential.fingerprint, "status": credential.status.value,
                     "reason": reason[:300],
                     "retire_at": credential.retire_at.isoformat()
                     if credential.retire_at else None}))
