"""What every part of signing in shares: its dependencies and the configured providers."""

from __future__ import annotations

from collections.abc import Mapping

from application.identity.sessions import SessionService
from application.ports import Clock, DataCipher, IdentityProvider, TaskQueue, UnitOfWorkFactory
from application.throttling import Throttle, unlimited
from domain.errors import NotFound
from domain.identity import ways_in


class SignInBase:
    """The dependencies of signing in; each part is a subclass."""

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        providers: Mapping[str, IdentityProvider],
        sessions: SessionService,
        clock: Clock,
        queue: TaskQueue,
        pseudonym_key: bytes,
        base_url: str,
        cipher: DataCipher | None = None,
        throttle: Throttle | None = None,
    ) -> None:
        self._uow, self._providers, self._sessions = uow, providers, sessions
        self._clock, self._queue, self._key = clock, queue, pseudonym_key
        self._base = base_url.rstrip("/")
        self._cipher = cipher  # re-seals a merged-in CI for its new owner
        self._throttle = throttle or unlimited()

    def _provider(self, name: str) -> IdentityProvider:
        provider = self._providers.get(name)
        if provider is None:
            raise NotFound(f"no sign-in provider '{name}'; choose one of "
                           f"{', '.join(sorted(self._providers)) or 'none'}, or your password")
        return provider

    def redirect_uri(self, provider: str) -> str:
        return f"{self._base}/v1/auth/{provider}/callback"

    async def other_ways(self, provider: str) -> list[str]:
        """Ways in that still work when `provider` does not: the other providers that are
        up, the password, and an email recovery link."""
        up = [name for name, idp in self._providers.items()
              if name != provider and await idp.available()]
        return ways_in(has_password=True, providers=up, email_recovery=True)
