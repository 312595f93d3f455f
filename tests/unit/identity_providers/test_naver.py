"""Naver's sign-in, against a fake of its token and profile endpoints."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from aiohttp import web
from authlib.common.security import generate_token  # type: ignore[import-untyped]

from adapters.http import OutboundHttp
from adapters.identity.naver import NaverProvider
from application.ports import AuthorizationRequest, CallbackParams, VerifiedIdentity
from domain.errors import ProviderUnavailable
from tests.unit.identity_providers.fake_openid import (
    CLIENT_ID,
    CLIENT_SECRET,
    REDIRECT,
    refused,
    serve,
)

# --- Naver ----------------------------------------------------------------------------------


class FakeNaver:
    """Naver's token and profile endpoints, as its API documentation describes them."""

    def __init__(self) -> None:
        self.codes = {"code-1"}
        self.tokens: set[str] = set()
        self.profile: dict[str, Any] = {"id": "naver-member-7", "email": "ada@naver.com",
                                        "name": "Ada", "mobile": "010-0000-0000"}
        self.resultcode = "00"
        self.token_requests: list[dict[str, str]] = []
        self.profile_headers: list[str] = []
        self.login_page_status = 200
        self.login_page_visits = 0

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_route("HEAD", "/oauth2.0/authorize", self._login_page)
        app.router.add_post("/oauth2.0/token", self._token)
        app.router.add_get("/v1/nid/me", self._me)
        return app

    async def _login_page(self, request: web.Request) -> web.Response:
        self.login_page_visits += 1
        return web.Response(status=self.login_page_status, text="<html>login</html>",
                            content_type="text/html")

    async def _token(self, request: web.Request) -> web.Response:
        form = {k: str(v) for k, v in (await request.post()).items()}
        self.token_requests.append(form)
        if (form.get("client_secret") != CLIENT_SECRET
                or form.get("code") not in self.codes):
            # Naver answers errors with HTTP 200 and an `error` field.
            return web.json_response({"error": "invalid_request",
                                      "error_description": "no valid data in session"})
        self.codes.discard(form["code"])
        token = "AAAA" + generate_token(20)
        self.tokens.add(token)
        return web.json_response({"access_token": token, "refresh_token": "r",
                                  "token_type": "bearer", "expires_in": "3600"})

    async def _me(self, request: web.Request) -> web.Response:
        header = request.headers.get("Authorization", "")
        self.profile_headers.append(header)
        if header.removeprefix("Bearer ") not in self.tokens:
            return web.json_response({"resultcode": "024", "message": "Authentication failed"},
                                     status=401)
        return web.json_response({"resultcode": self.resultcode, "message": "success",
                                  "response": self.profile})


@pytest.fixture
async def naver_site() -> AsyncIterator[tuple[FakeNaver, str]]:
    fake = FakeNaver()
    server = await serve(fake.app())
    yield fake, f"http://127.0.0.1:{server.port}"
    await server.close()


@pytest.fixture
def naver(http: OutboundHttp, naver_site: tuple[FakeNaver, str]) -> NaverProvider:
    _, base = naver_site
    return NaverProvider(http, client_id=CLIENT_ID, client_secret=CLIENT_SECRET,
                         authorize_url=f"{base}/oauth2.0/authorize",
                         token_url=f"{base}/oauth2.0/token", profile_url=f"{base}/v1/nid/me")


def _naver_exchange(naver: NaverProvider, code: str = "code-1",
                    ) -> Callable[[], Awaitable[VerifiedIdentity]]:
    return lambda: naver.exchange_code(CallbackParams(code), code_verifier="unused",
                                       nonce="nonce-1", redirect_uri=REDIRECT)


async def test_naver_signs_in_with_an_email_never_verified(
    naver: NaverProvider, naver_site: tuple[FakeNaver, str]
) -> None:
    fake, _ = naver_site
    identity = await _naver_exchange(naver)()
    assert identity == VerifiedIdentity("naver", "naver-member-7", "ada@naver.com", False)
    sent = fake.token_requests[-1]
    assert sent["grant_type"] == "authorization_code" and sent["client_id"] == CLIENT_ID
    assert sent["state"]
    assert fake.profile_headers[-1].startswith("Bearer AAAA")
    assert naver.response_mode == "query" and await naver.available()


async def test_naver_authorization_url_carries_the_state(naver: NaverProvider) -> None:
    url = await naver.authorization_url(AuthorizationRequest(
        "state-1", "nonce-1", "challenge", REDIRECT, login_hint="ada"))
    query = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
    assert query == {"response_type": "code", "client_id": CLIENT_ID,
                     "redirect_uri": REDIRECT, "state": "state-1"}


async def test_naver_is_asked_whether_its_login_page_answers_before_a_start(
    naver: NaverProvider, naver_site: tuple[FakeNaver, str]
) -> None:
    fake, _ = naver_site
    request = AuthorizationRequest("state-1", "nonce-1", "challenge", REDIRECT)
    await naver.authorization_url(request)
    assert fake.login_page_visits == 1
    fake.login_page_status = 503
    with pytest.raises(ProviderUnavailable):
        await naver.authorization_url(request)


async def test_naver_makes_the_person_sign_in_again_for_a_link(naver: NaverProvider) -> None:
    url = await naver.authorization_url(AuthorizationRequest(
        "state-1", "nonce-1", "challenge", REDIRECT, prompt="login"))
    assert parse_qs(urlsplit(url).query)["auth_type"] == ["reauthenticate"]


async def test_naver_refuses_a_replayed_code(naver: NaverProvider) -> None:
    await _naver_exchange(naver)()
    assert (await refused(_naver_exchange(naver)())).reason == "invalid_grant"


async def test_naver_refuses_a_profile_whose_resultcode_is_not_00(
    naver: NaverProvider, naver_site: tuple[FakeNaver, str]
) -> None:
    fake, _ = naver_site
    fake.resultcode = "403"
    assert (await refused(_naver_exchange(naver)())).reason == "invalid_token"


async def test_naver_refuses_a_profile_without_a_member_id(
    naver: NaverProvider, naver_site: tuple[FakeNaver, str]
) -> None:
    fake, _ = naver_site
    del fake.profile["id"]
    assert (await refused(_naver_exchange(naver)())).reason == "invalid_token"


async def test_naver_down_is_provider_unavailable(http: OutboundHttp) -> None:
    naver = NaverProvider(http, client_id=CLIENT_ID, client_secret=CLIENT_SECRET,
                          token_url="http://127.0.0.1:9/oauth2.0/token")
    with pytest.raises(ProviderUnavailable):
        await _naver_exchange(naver)()
