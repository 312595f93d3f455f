"""OidcProvider's exchanges with a real OpenID provider, replayed from vcrpy cassettes.

`tests/cassettes/record_oidc.py` recorded them against oidc-provider (`tests/oidc`): the
discovery document, the token endpoint and the key set, for one sign-in and for a code
redeemed twice. They replay here with no Node and no network (record_mode="none"), the
adapter's clock frozen at the moment of recording (the `Date` of the recorded token answer),
so the ID token in the cassette is verified for real: signature against the recorded keys,
issuer, audience, nonce and times.

The client secret, the code, the PKCE verifier and the provider's access token are filtered
out before a cassette is written; the ID token stays, since the replay verifies it. It is
signed by a key the test provider generated for that one run and holds test data only.
"""

from __future__ import annotations

import base64
import copy
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import vcr
import yaml
from vcr.request import Request

from adapters.identity.oidc import SECRET_IN_FORM, OidcProvider
from application.ports import CallbackParams, VerifiedIdentity
from domain.errors import SignInRefused
from tests.helpers import RecordingLedger
from tests.integration.cassette_filters import blank_json_fields, rewrite_body, without_cookies
from tests.integration.replay_http import replaying_http
from tests.oidc_provider import (
    MALL_TEST_CLIENT_ID,
    MALL_TEST_CLIENT_SECRET,
    MALL_TEST_REDIRECT_URI,
)

CASSETTES = Path(__file__).resolve().parent.parent / "cassettes"
FILTERED = "[filtered]"
# Fields of the token request that are secrets or single-use bearer values.
SECRET_FORM_FIELDS = ("client_secret", "code", "code_verifier")
# Tokens of the provider's answer that the replay does not need (the ID token it does).
SECRET_ANSWER_FIELDS = ("access_token", "refresh_token")
# The nonce the recorded sign-ins were started with: the ID tokens carry it.
NONCE = "mall-cassette-nonce-0f3c9a7e5b1d4e2a8c6f"
LOGIN = "ada@example.com"
SCENARIOS: dict[str, int] = {  # cassette name: how many times the one code is redeemed
    "oidc_sign_in": 1,
    "oidc_replayed_code": 2,
}


def cassette_path(scenario: str) -> Path:
    return CASSETTES / f"{scenario}.yaml"


# --- filters, applied when recording and again to each request when replaying ---------------


def scrub_request(request: Request) -> Request:
    """A copy of the request without its secrets (the original still goes out unchanged:
    vcrpy hands filters the very form dict aiohttp is about to send)."""
    request = copy.copy(request)
    if isinstance(request.body, dict):
        request.body = {k: (FILTERED if k in SECRET_FORM_FIELDS else v)
                        for k, v in request.body.items()}
    return request


def scrub_response(response: dict[str, Any]) -> dict[str, Any]:
    response = without_cookies(copy.deepcopy(response))
    return rewrite_body(response, lambda text: blank_json_fields(
        text, SECRET_ANSWER_FIELDS, FILTERED))


def oidc_vcr(record_mode: str = "none") -> vcr.VCR:
    return vcr.VCR(
        cassette_library_dir=str(CASSETTES), record_mode=record_mode,
        match_on=["method", "scheme", "host", "port", "path", "query", "body"],
        filter_headers=[("authorization", "Basic [filtered]"), ("cookie", None)],
        before_record_request=scrub_request, before_record_response=scrub_response,
        decode_compressed_response=True,
    )


# --- the scenario, shared with the recorder ---------------------------------------------------


@dataclass
class FrozenClock:
    at: datetime

    def now(self) -> datetime:
        return self.at


async def redeem(issuer: str, clock: Any, code: str, code_verifier: str,
                 times: int) -> tuple[list[VerifiedIdentity | SignInRefused], RecordingLedger]:
    """A fresh OidcProvider redeems the callback's code `times` times (inside a cassette when
    one is active): each outcome is the verified identity or the refusal."""
    ledger = RecordingLedger()
    outcomes: list[VerifiedIdentity | SignInRefused] = []
    async with replaying_http(ledger) as http:
        provider = OidcProvider(
            http, clock, name="oidc", issuer=issuer, client_id=MALL_TEST_CLIENT_ID,
            client_secret=MALL_TEST_CLIENT_SECRET, token_auth=SECRET_IN_FORM)
        for _ in range(times):
            try:
                outcomes.append(await provider.exchange_code(
                    CallbackParams(code, issuer), code_verifier=code_verifier, nonce=NONCE,
                    redirect_uri=MALL_TEST_REDIRECT_URI))
            except SignInRefused as refusal:
                outcomes.append(refusal)
    return outcomes, ledger


# --- what a cassette says ---------------------------------------------------------------------


def interactions(path: Path) -> list[dict[str, Any]]:
    return list(yaml.safe_load(path.read_text())["interactions"])


def body_text(exchange: dict[str, Any]) -> str:
    raw = exchange["response"]["body"]["string"]
    return raw.decode() if isinstance(raw, bytes) else str(raw)


def header(exchange: dict[str, Any], name: str) -> str:
    for key, values in exchange["response"]["headers"].items():
        if key.lower() == name:
            return str(values[0])
    raise KeyError(name)


def recorded_issuer(path: Path) -> str:
    """The provider's issuer, as its recorded discovery document names it."""
    [discovery] = [i for i in interactions(path)
                   if urlsplit(i["request"]["uri"]).path.endswith("/openid-configuration")]
    return str(json.loads(body_text(discovery))["issuer"])


def recorded_at(path: Path) -> datetime:
    """When the cassette was recorded: the `Date` of the provider's first token answer."""
    token = next(i for i in interactions(path)
                 if urlsplit(i["request"]["uri"]).path.endswith("/token"))
    return parsedate_to_datetime(header(token, "date"))


def recorded_paths(path: Path) -> list[str]:
    return [f"{i['request']['method']} {urlsplit(i['request']['uri']).path}"
            for i in interactions(path)]


async def replay(scenario: str, *, path: Path | None = None,
                 clock: Callable[[datetime], datetime] = lambda at: at,
                 ) -> list[VerifiedIdentity | SignInRefused]:
    path = path or cassette_path(scenario)
    issuer, at = recorded_issuer(path), clock(recorded_at(path))
    library = oidc_vcr()
    library.cassette_library_dir = str(path.parent)
    with library.use_cassette(path.name) as cassette:
        # The code and verifier were filtered out of the cassette: any value matches.
        outcomes, _ = await redeem(issuer, FrozenClock(at), "code-from-the-callback",
                                   "verifier-of-the-sign-in", SCENARIOS[scenario])
        assert cassette.all_played
    return outcomes


# --- replaying ------------------------------------------------------------------------------

ADA = VerifiedIdentity(provider="oidc", subject=f"sub-{LOGIN}", email=LOGIN,
                       email_verified=True)


async def test_a_recorded_sign_in_replays_to_the_verified_identity() -> None:
    assert await replay("oidc_sign_in") == [ADA]
    assert recorded_paths(cassette_path("oidc_sign_in")) == [
        "GET /.well-known/openid-configuration", "POST /token", "GET /jwks"]


async def test_a_recorded_code_redeemed_twice_is_refused_the_second_time() -> None:
    first, second = await replay("oidc_replayed_code")

    assert first == ADA
    assert isinstance(second, SignInRefused)
    assert second.reason == "invalid_grant"
    assert "already used" in second.detail
    # Discovery and keys come from the adapter's cache the second time.
    assert recorded_paths(cassette_path("oidc_replayed_code")) == [
        "GET /.well-known/openid-configuration", "POST /token", "GET /jwks", "POST /token"]
    [refused_answer] = [i for i in interactions(cassette_path("oidc_replayed_code"))
                        if i["response"]["status"]["code"] == 400]
    assert json.loads(body_text(refused_answer))["error"] == "invalid_grant"


async def test_the_replay_is_judged_by_the_adapters_clock() -> None:
    """An hour after the recording, the same ID token has expired: the frozen clock, not the
    system's, is what let the replay pass."""
    [late] = await replay("oidc_sign_in", clock=lambda at: at + timedelta(hours=1))
    assert isinstance(late, SignInRefused) and late.reason == "token_expired"


async def test_an_altered_id_token_in_the_cassette_is_refused(tmp_path: Path) -> None:
    """The ID token is verified for real on replay: change one claim and its signature no
    longer matches the recorded key."""
    source = cassette_path("oidc_sign_in")
    document = yaml.safe_load(source.read_text())
    token_answer = next(i for i in document["interactions"]
                        if urlsplit(i["request"]["uri"]).path.endswith("/token"))
    answer = json.loads(body_text(token_answer))
    head, payload, signature = answer["id_token"].split(".")
    claims = json.loads(_unb64(payload))
    claims["email"] = "mallory@example.com"
    answer["id_token"] = ".".join((head, _b64(json.dumps(claims).encode()), signature))
    token_answer["response"]["body"]["string"] = json.dumps(answer)
    token_answer["response"]["headers"] = {
        k: v for k, v in token_answer["response"]["headers"].items()
        if k.lower() != "content-length"}
    altered = tmp_path / "oidc_sign_in.yaml"
    altered.write_text(yaml.safe_dump(document))

    [outcome] = await replay("oidc_sign_in", path=altered)

    assert isinstance(outcome, SignInRefused) and outcome.reason == "invalid_token"
    assert "forged or altered" in outcome.detail


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_the_cassettes_keep_no_secret_but_the_id_token(scenario: str) -> None:
    path = cassette_path(scenario)
    text = path.read_text()
    assert MALL_TEST_CLIENT_SECRET not in text
    assert "set-cookie" not in text.lower()
    for exchange in interactions(path):
        request = exchange["request"]
        if request["method"] == "POST":
            body = request["body"]
            assert {k: body[k] for k in SECRET_FORM_FIELDS} == dict.fromkeys(
                SECRET_FORM_FIELDS, FILTERED)
            assert body["grant_type"] == "authorization_code"
            assert not any(k.lower() == "authorization" for k in request["headers"])
            answer = json.loads(body_text(exchange))
            if exchange["response"]["status"]["code"] == 200:
                assert answer["access_token"] == FILTERED
                assert answer["id_token"].count(".") == 2  # kept: the replay verifies it
