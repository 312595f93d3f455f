"""Discovery and keys: the provider's discovery document (cached, re-read quickly before a
customer is sent there, faults found in it reported) and its key set."""

from __future__ import annotations

import asyncio
import logging
from typing import Any, NoReturn

from joserfc.errors import JoseError
from joserfc.jwk import Key, KeySet

from adapters.identity.oidc.client import OidcClient, _Discovery, _Fault, _Keys
from adapters.identity.oidc.presets import DEFAULT_ALGORITHMS
from domain.errors import ProviderUnavailable

_KEY_TYPE_OF_ALGORITHM = {"RS": "RSA", "PS": "RSA", "ES": "EC", "Ed": "OKP"}
# A provider whose discovery named a fault (another issuer, no algorithm we registered for) is
# asked again after this long: the fault may be fixed on its side without a restart of ours.
FAULT_RECHECK_SECONDS = 60

log = logging.getLogger("mall.identity")


class OidcDiscovery(OidcClient):
    """The provider's discovery document and key set, cached and re-read when stale."""

    async def _discover(self, max_age: float | None = None, *, quick: bool = False
                        ) -> _Discovery:
        """The discovery document, from the cache while younger than `max_age` (default: its
        time to live). `quick`: one try with a short timeout, for a customer who is waiting.
        Raises ProviderUnavailable when it cannot be read or shows a fault."""
        fault = self._fault
        if fault is not None and self._now() - fault.found_at < FAULT_RECHECK_SECONDS:
            raise ProviderUnavailable(fault.reason)
        cached = self._discovery
        age_limit = self._ttl if max_age is None else max_age
        if cached is not None and self._now() - cached.fetched_at < age_limit:
            return cached
        loop = asyncio.get_running_loop()
        fetching = self._fetching
        if fetching is None or fetching.done() or fetching.get_loop() is not loop:
            fetching = loop.create_task(self._fetch_discovery(quick))
            # Retrieved here too, in case every waiter gave up before it ended.
            fetching.add_done_callback(lambda done: done.cancelled() or done.exception())
            self._fetching = fetching
        # Shielded: a customer who gives up does not cancel the answer others are awaiting.
        return await asyncio.shield(fetching)

    async def _fetch_discovery(self, quick: bool) -> _Discovery:
        url = f"{self._issuer.rstrip('/')}/.well-known/openid-configuration"
        try:
            document = self._json_object(
                await self._http.request(
                    self.name, "GET", url, subject=self._subject,
                    # A waiting customer gets one short try: a hung provider is given up on
                    # within seconds (and its breaker counts it) instead of after every retry.
                    timeout_seconds=self._liveness_timeout if quick else None,
                    idempotent=False if quick else None),
                "its discovery document")
        except ProviderUnavailable:
            self._discovery = None  # found down: nothing vouches for it until it answers
            raise
        named = document.get("issuer")
        if named != self._issuer:
            self._found_fault(self._issuer_fault(named))
        endpoints = {}
        for field in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
            value = document.get(field)
            if not isinstance(value, str) or not value:
                self._found_fault(f"the discovery document of {self.name} has no {field}, "
                                  "so no sign-in can work until the provider fixes it")
            endpoints[field] = value
        listed = document.get("id_token_signing_alg_values_supported", DEFAULT_ALGORITHMS)
        offered = [str(a)[:20] for a in listed] if isinstance(listed, list | tuple) else []
        if self._algorithm not in offered:
            self._found_fault(
                f"{self.name} is misconfigured: this shop expects ID tokens signed with "
                f"{self._algorithm}, and the provider offers only "
                f"{', '.join(offered[:10]) or 'none'}; its client registration and our "
                "id_token_signed_response_alg must name the same algorithm")
        discovery = _Discovery(
            authorization_endpoint=endpoints["authorization_endpoint"],
            token_endpoint=endpoints["token_endpoint"], jwks_uri=endpoints["jwks_uri"],
            iss_parameter_supported=(
                document.get("authorization_response_iss_parameter_supported") is True),
            fetched_at=self._now(),
        )
        self._discovery, self._fault = discovery, None
        return discovery

    def _issuer_fault(self, named: Any) -> str:
        shown = str(named)[:200]
        if isinstance(named, str) and named.rstrip("/") == self._issuer.rstrip("/"):
            return (f"{self.name} is misconfigured: its issuer is set to {self._issuer!r} "
                    f"but the provider names itself {shown!r}, which differs by a trailing "
                    f"slash; set the issuer to exactly {shown!r}")
        return (f"{self.name} is misconfigured: its issuer is set to {self._issuer!r} but the "
                f"discovery document names {shown!r}, so it is not the configured provider")

    def _found_fault(self, reason: str) -> NoReturn:
        """Every sign-in would fail the same way: say so (and why) until it is fixed."""
        if self._fault is None or self._fault.reason != reason:
            log.warning("sign-in provider %s unavailable: %s", self.name, reason)
        self._fault, self._discovery = _Fault(reason, self._now()), None
        raise ProviderUnavailable(reason)

    async def _key_set(self, discovery: _Discovery, *, refresh: bool) -> tuple[KeySet, bool]:
        """The provider's signing keys and whether they were fetched just now."""
        cached = self._keys
        if (not refresh and cached is not None and cached.uri == discovery.jwks_uri
                and self._now() - cached.fetched_at < self._ttl):
            return cached.keys, False
        document = self._json_object(
            await self._http.request(self.name, "GET", discovery.jwks_uri,
                                     subject=self._subject),
            "its signing keys")
        listed = document.get("keys")
        if not isinstance(listed, list):
            raise ProviderUnavailable(f"{self.name} published a key set without keys")
        # One unreadable key (an algorithm this library does not know) must not hide the rest.
        readable: list[Key] = []
        for entry in listed:
            try:
                readable.extend(KeySet.import_key_set({"keys": [entry]}).keys)
            except (JoseError, ValueError, TypeError, KeyError):
                continue
        keys = KeySet(readable)
        self._keys = _Keys(discovery.jwks_uri, keys, self._now())
        return keys, True

    async def _signing_key(self, discovery: _Discovery, kid: str | None, alg: str) -> Key:
        """The key the token names; on an unknown kid the key set is fetched again once, since
        the provider may have rotated its keys since we cached them."""
        keys, fresh = await self._key_set(discovery, refresh=False)
        key = self._pick(keys, kid, alg)
        if key is None and not fresh:
            keys, _ = await self._key_set(discovery, refresh=True)
            key = self._pick(keys, kid, alg)
        if key is None:
            self._refuse("unknown_key", (
                f"the ID token is signed with a key {self.name} does not publish "
                f"(kid {str(kid)[:80]!r})" if kid is not None else
                f"the ID token names no key, and {self.name} does not publish exactly one "
                f"{alg} key"))
        return key

    def _pick(self, keys: KeySet, kid: str | None, alg: str) -> Key | None:
        key_type = _KEY_TYPE_OF_ALGORITHM[alg[:2]]
        named = [k for k in keys if kid is None or k.kid == kid]
        usable = [k for k in named
                  if k.key_type == key_type and k.get("use") in (None, "sig")
                  and k.get("alg") in (None, alg)]
        if kid is None:
            return usable[0] if len(usable) == 1 else None
        if named and not usable:
            self._refuse("invalid_token", (
                f"the key {kid[:80]!r} of {self.name} cannot verify an {alg} signature"))
        return usable[0] if usable else None
