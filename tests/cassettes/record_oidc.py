"""Re-record the OpenID Connect cassettes: `python -m tests.cassettes.record_oidc` (needs Node).

Starts the test OpenID provider (oidc-provider, `tests/oidc`) with the `mall-test` client,
signs in as ada@example.com without a browser for each scenario, then records what
OidcProvider exchanges with it while redeeming the code (discovery, token endpoint, key set):
`oidc_sign_in.yaml` redeems it once, `oidc_replayed_code.yaml` twice. The client secret, the
code, the PKCE verifier and the provider's access token are filtered before writing; the ID
token stays, signed by the key the provider generated for this run. The recorder reads each
cassette back and deletes it if the client secret, the code or the verifier is in it.
"""

from __future__ import annotations

import asyncio
import secrets
import sys

from adapters.clock import SystemClock
from adapters.http import OutboundHttp
from adapters.identity.oidc import OidcProvider
from application.ports import AuthorizationRequest, VerifiedIdentity
from domain.identity import pkce_challenge
from tests.helpers import NoAlerts, RecordingLedger
from tests.integration.test_oidc_cassettes import (
    LOGIN,
    NONCE,
    SCENARIOS,
    cassette_path,
    oidc_vcr,
    redeem,
)
from tests.oidc_provider import (
    MALL_TEST_CLIENT_ID,
    MALL_TEST_CLIENT_SECRET,
    MALL_TEST_REDIRECT_URI,
    mall_test_clients,
    node_available,
    sign_in,
    start_oidc_provider,
    unavailable_reason,
)


async def signed_in(issuer: str, code_verifier: str) -> str:
    """Sign in at the provider (outside any cassette): the code its callback carries."""
    http = OutboundHttp(RecordingLedger(), NoAlerts(), timeout_seconds=10, retries=0,
                        breaker_threshold=5, breaker_ttl_seconds=30)
    provider = OidcProvider(http, SystemClock(), name="oidc", issuer=issuer,
                            client_id=MALL_TEST_CLIENT_ID, client_secret=MALL_TEST_CLIENT_SECRET)
    try:
        url = await provider.authorization_url(AuthorizationRequest(
            state=secrets.token_urlsafe(32), nonce=NONCE,
            code_challenge=pkce_challenge(code_verifier), redirect_uri=MALL_TEST_REDIRECT_URI))
    finally:
        await http.close()
    params = await sign_in(url, login=LOGIN)
    if not params.get("code"):
        raise SystemExit(f"the provider did not sign {LOGIN} in: {params}")
    return params["code"]


async def record(issuer: str) -> None:
    for scenario, times in SCENARIOS.items():
        verifier = secrets.token_urlsafe(64)
        code = await signed_in(issuer, verifier)
        path = cassette_path(scenario)
        path.unlink(missing_ok=True)
        with oidc_vcr("once").use_cassette(path.name):
            outcomes, _ = await redeem(issuer, SystemClock(), code, verifier, times)
        if not isinstance(outcomes[0], VerifiedIdentity):
            path.unlink(missing_ok=True)
            raise SystemExit(f"{scenario}: the sign-in did not verify: {outcomes[0]}")
        text = path.read_text()
        leaked = [name for name, value in (("client secret", MALL_TEST_CLIENT_SECRET),
                                           ("code", code), ("code verifier", verifier))
                  if value in text]
        if leaked:
            path.unlink()
            raise SystemExit(f"{scenario}: the {', '.join(leaked)} reached the cassette; "
                             "it was deleted")
        print(f"recorded {path} ({', '.join(type(o).__name__ for o in outcomes)})")


def main() -> None:
    if not node_available():
        sys.exit(f"recording needs the test OpenID provider: {unavailable_reason()}")
    with start_oidc_provider(mall_test_clients()) as op:
        asyncio.run(record(op.issuer))


if __name__ == "__main__":
    main()
