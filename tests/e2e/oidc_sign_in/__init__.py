"""Signing in with OpenID Connect, end to end: the app on a real port, a real OpenID provider
(oidc-provider on Node, `tests/oidc_provider.py`) and, for the defects a real provider will
not produce, a provider served by aiohttp in the test whose token endpoint mints a flawed ID
token. Every refusal is a problem+json 401 with a stable `reason` and the ways still open,
and leaves nothing behind: no customer, no identity link, no session, no pending link.

Without Node these tests are skipped; under CI=true or MALL_REQUIRE_SERVICES=1 they fail.
"""
