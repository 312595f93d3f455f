"""FcmPush against a stand-in of Google's token endpoint and FCM (fcm_standin.py): the bearer
token comes from a JWT that Google's own library verifies with a service account key made for
the test, it is reused until it nears its end, and FCM's answers become a receipt, a device
that is gone, or an unavailable provider."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from google.auth import jwt as google_jwt
from google.oauth2 import service_account

from adapters.http import OutboundHttp
from adapters.messaging.fcm import SCOPE, FcmPush, ServiceAccount, service_account_assertion
from application.ports import Envelope, RenderedMessage
from domain.errors import ProviderUnavailable, RecipientRejected
from tests.fakes.clock import FakeClock
from tests.helpers import NoAlerts, RecordingLedger
from tests.integration.fcm_standin import (
    CLIENT_EMAIL,
    KEY_ID,
    PROJECT,
    FcmStandIn,
    service_account_key,
)

DEVICE = "dXNlcjEyMzQ1Njc4OTA:APA91bH-test-registration-token_0123456789"


@dataclass
class Setup:
    stand_in: FcmStandIn
    push: FcmPush
    clock: FakeClock
    ledger: RecordingLedger
    info: dict[str, Any]


def envelope(to: str = DEVICE) -> Envelope:
    return Envelope("msg_7", "push", to, RenderedMessage("배송 출발", "오늘 도착 예정입니다"),
                    data={"order_id": "ord_1"})


@pytest.fixture
async def fcm(aiohttp_server: Any) -> AsyncIterator[Setup]:
    stand_in = FcmStandIn()
    server = await aiohttp_server(stand_in.application())
    info, stand_in.public_key_pem = service_account_key(str(server.make_url("/token")))
    ledger = RecordingLedger()
    http = OutboundHttp(ledger, NoAlerts(), timeout_seconds=5, retries=0,
                        breaker_threshold=50, breaker_ttl_seconds=30)
    # Google's library checks the assertion's times against the real clock.
    clock = FakeClock(datetime.now(UTC).replace(microsecond=0))
    push = FcmPush(http, clock, ServiceAccount.from_info(info),
                   base_url=str(server.make_url("")).rstrip("/"))
    yield Setup(stand_in, push, clock, ledger, info)
    await http.close()


async def test_a_push_carries_a_bearer_token_google_auth_verified(fcm: Setup) -> None:
    receipt = await fcm.push.send(envelope())
    assert fcm.stand_in.refusals == []
    assert (receipt.provider, receipt.status) == ("fcm", "sent")
    assert receipt.provider_message_id.startswith(f"projects/{PROJECT}/messages/")
    [claims] = fcm.stand_in.assertions
    assert claims["iss"] == CLIENT_EMAIL and claims["scope"] == SCOPE
    assert claims["aud"] == fcm.info["token_uri"] and claims["exp"] - claims["iat"] == 3600
    assert fcm.stand_in.sent == [{
        "token": DEVICE, "notification": {"title": "배송 출발", "body": "오늘 도착 예정입니다"},
        "data": {"order_id": "ord_1", "message_id": "msg_7"}}]


def test_our_assertion_is_one_google_auth_verifies_and_would_make_itself() -> None:
    info, public_pem = service_account_key("https://oauth2.googleapis.com/token")
    now = datetime.now(UTC)
    ours = service_account_assertion(ServiceAccount.from_info(info), _key(info), now)
    claims = google_jwt.decode(ours, certs={KEY_ID: public_pem},
                               audience="https://oauth2.googleapis.com/token")
    header = google_jwt.decode_header(ours)
    # The assertion google-auth itself makes for the same key and scope, for comparison.
    theirs = service_account.Credentials.from_service_account_info(
        info, scopes=[SCOPE])._make_authorization_grant_assertion()
    their_claims = google_jwt.decode(theirs, certs={KEY_ID: public_pem},
                                     audience="https://oauth2.googleapis.com/token")
    assert header == {"alg": "RS256", "typ": "JWT", "kid": KEY_ID}
    assert google_jwt.decode_header(theirs)["kid"] == KEY_ID
    assert set(claims) == set(their_claims)
    assert {k: claims[k] for k in ("iss", "aud", "scope")} == {
        k: their_claims[k] for k in ("iss", "aud", "scope")}
    # Another key's signature is refused by the same check.
    _, stranger = service_account_key("https://oauth2.googleapis.com/token")
    with pytest.raises(ValueError):
        google_jwt.decode(ours, certs={KEY_ID: stranger})


def _key(info: dict[str, Any]) -> Any:
    from joserfc.jwk import RSAKey
    return RSAKey.import_key(info["private_key"])


async def test_the_token_is_reused_until_it_nears_its_end(fcm: Setup) -> None:
    fcm.stand_in.token_lifetime_seconds = 150  # renewed 2 minutes before its end
    await fcm.push.send(envelope())
    await fcm.push.send(envelope())
    assert len(fcm.stand_in.issued) == 1
    fcm.clock.advance(seconds=20)
    await fcm.push.send(envelope())
    assert len(fcm.stand_in.issued) == 1
    fcm.clock.advance(seconds=15)  # 35 s of 150: within the last 2 minutes
    await fcm.push.send(envelope())
    assert len(fcm.stand_in.issued) == 2 and fcm.stand_in.refusals == []


async def test_an_unregistered_device_is_a_rejected_recipient(fcm: Setup) -> None:
    fcm.stand_in.unregistered.add(DEVICE)
    with pytest.raises(RecipientRejected) as refused:
        await fcm.push.send(envelope())
    assert refused.value.reason == "unregistered"
    assert DEVICE not in refused.value.detail


@pytest.mark.parametrize("status", [429, 503])
async def test_throttling_and_outages_make_the_provider_unavailable(
        fcm: Setup, status: int) -> None:
    fcm.stand_in.fail_next.append(status)
    with pytest.raises(ProviderUnavailable):
        await fcm.push.send(envelope())


async def test_a_revoked_token_is_dropped_and_the_next_send_signs_in_again(
        fcm: Setup) -> None:
    await fcm.push.send(envelope())
    fcm.stand_in.issued.clear()  # Google revoked it
    with pytest.raises(ProviderUnavailable, match="THIRD_PARTY_AUTH_ERROR"):
        await fcm.push.send(envelope())
    await fcm.push.send(envelope())
    assert len(fcm.stand_in.issued) == 1 and len(fcm.stand_in.sent) == 2


async def test_a_key_google_does_not_accept_makes_the_provider_unavailable(
        fcm: Setup) -> None:
    other, _ = service_account_key(fcm.info["token_uri"])
    http = OutboundHttp(RecordingLedger(), NoAlerts(), 5, 0, 50, 30)
    push = FcmPush(http, fcm.clock, ServiceAccount.from_info(other),
                   base_url="http://127.0.0.1:9")
    with pytest.raises(ProviderUnavailable, match="MALL_FCM_SERVICE_ACCOUNT_FILE"):
        await push.send(envelope())
    await http.close()
    assert fcm.stand_in.refusals and fcm.stand_in.refusals[0].startswith("assertion")


async def test_no_device_token_text_or_credential_reaches_the_evidence(fcm: Setup) -> None:
    await fcm.push.send(envelope())
    kept = json.dumps([draft.redacted()[1] for draft in fcm.ledger.drafts], ensure_ascii=False)
    for secret in (DEVICE, "오늘 도착 예정입니다", fcm.stand_in.issued[0], "BEGIN PRIVATE KEY"):
        assert secret not in kept
    assertion = [d for d in fcm.ledger.drafts if d.subject == "oauth2.token"]
    assert assertion and '"assertion": "[redacted]"' in kept


def test_a_file_that_is_no_service_account_key_is_refused(tmp_path: Any) -> None:
    path = tmp_path / "key.json"
    path.write_text(json.dumps({"type": "authorized_user", "client_id": "x"}))
    with pytest.raises(ValueError, match="service account"):
        ServiceAccount.from_file(str(path))
    with pytest.raises(ValueError, match="MALL_FCM_SERVICE_ACCOUNT_FILE"):
        ServiceAccount.from_file(str(tmp_path / "missing.json"))
