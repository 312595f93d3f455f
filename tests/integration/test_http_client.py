"""The outbound HTTP client: safe retries only, a breaker per provider, evidence of each try."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp import web
from tenacity import AsyncRetrying, RetryCallState

from adapters.http import BACKOFF, OutboundHttp
from domain.errors import ProviderUnavailable
from tests.integration.test_cassettes import Ledger


class Alerts:
    def __init__(self) -> None:
        self.alerts: list[Any] = []

    async def alert(self, alert: Any) -> None:
        self.alerts.append(alert)


@pytest.fixture
async def flaky(aiohttp_server: Any) -> Any:
    """A provider that fails the first `fail` calls of each path with 503."""
    calls: dict[str, int] = {}

    async def handler(request: web.Request) -> web.Response:
        calls[request.path] = calls.get(request.path, 0) + 1
        fail = int(request.query.get("fail", "0"))
        if calls[request.path] <= fail:
            return web.json_response({"error": "busy"}, status=503)
        return web.json_response({"ok": True, "echo": await request.json()
                                  if request.can_read_body else None})

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    server = await aiohttp_server(app)
    server.calls = calls
    return server


def _client(ledger: Ledger, alerts: Alerts, threshold: int = 5) -> OutboundHttp:
    return OutboundHttp(ledger, alerts, timeout_seconds=5, retries=2,
                        breaker_threshold=threshold, breaker_ttl_seconds=30)


async def test_a_post_with_an_idempotency_key_is_retried(flaky: Any) -> None:
    ledger = Ledger()
    http = _client(ledger, Alerts())
    response = await http.request(
        "acme", "POST", str(flaky.make_url("/charge?fail=2")), subject="order:o1",
        json_body={"amount": 1, "note": "card 4242 4242 4242 4242"},
        headers={"Idempotency-Key": "k1", "Authorization": "Bearer sk_live_secret"})
    await http.close()
    assert response.status == 200
    assert flaky.calls["/charge"] == 3
    assert [d.context["attempt"] for d in ledger.drafts] == [1, 2, 3]
    _, payload, _ = ledger.drafts[0].redacted()
    assert payload["request"]["headers"]["Authorization"] == "[redacted]"
    assert "4242" not in str(payload)
    assert payload["error"] == "HTTP 503"


async def test_a_post_without_a_key_is_never_repeated(flaky: Any) -> None:
    ledger = Ledger()
    http = _client(ledger, Alerts())
    with pytest.raises(ProviderUnavailable):
        await http.request("acme", "POST", str(flaky.make_url("/once?fail=1")),
                           subject="x", json_body={})
    await http.close()
    assert flaky.calls["/once"] == 1 and len(ledger.drafts) == 1


async def test_a_4xx_answer_is_returned_not_retried(aiohttp_server: Any) -> None:
    async def refuse(request: web.Request) -> web.Response:
        return web.json_response({"error": "card_declined"}, status=402)

    app = web.Application()
    app.router.add_get("/", refuse)
    server = await aiohttp_server(app)
    http = _client(Ledger(), Alerts())
    response = await http.request("acme", "GET", str(server.make_url("/")), subject="x")
    await http.close()
    assert response.status == 402 and response.json() == {"error": "card_declined"}


async def test_the_breaker_opens_and_stops_sending_and_alerts(flaky: Any) -> None:
    ledger, alerts = Ledger(), Alerts()
    http = _client(ledger, alerts, threshold=2)
    for _ in range(2):
        with pytest.raises(ProviderUnavailable):
            await http.request("acme", "GET", str(flaky.make_url("/down?fail=100")),
                               subject="x")
    sent = flaky.calls["/down"]
    with pytest.raises(ProviderUnavailable, match="not sent"):
        await http.request("acme", "GET", str(flaky.make_url("/down?fail=100")), subject="x")
    assert flaky.calls["/down"] == sent, "nothing is sent while the circuit is open"
    # Another provider has its own breaker.
    ok = await http.request("other", "GET", str(flaky.make_url("/up")), subject="x")
    assert ok.status == 200
    await http.close()
    assert ledger.drafts[-2].payload["error"] == "circuit open: request not sent"
    assert any(a.source == "acme" and a.severity == "critical" for a in alerts.alerts)


async def test_an_unreachable_provider_is_unavailable_not_a_crash() -> None:
    http = _client(Ledger(), Alerts())
    with pytest.raises(ProviderUnavailable):
        await http.request("nowhere", "GET", "http://127.0.0.1:9/", subject="x")
    await http.close()


def test_retries_back_off_exponentially_with_jitter() -> None:
    def wait(attempt: int) -> float:
        state = RetryCallState(AsyncRetrying(), fn=None, args=(), kwargs={})
        state.attempt_number = attempt
        return BACKOFF(state)

    first, second = [wait(1) for _ in range(20)], [wait(2) for _ in range(20)]
    assert all(0.2 <= w <= 0.4 for w in first) and all(0.4 <= w <= 0.6 for w in second)
    assert len(set(first)) > 1  # not every caller comes back at the same instant
    assert wait(10) <= 2.0
