"""Drift in a provider's answers: an unknown status, a missing field or an announced end of
the API opens one incident per drift, with the offending exchange as its evidence."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from adapters.http import OutboundHttp
from adapters.persistence.tables import EvidenceRecord, Incident, OutboxMessage
from adapters.provider_contracts import CONTRACTS
from application.provider_drift import DriftReports
from tests.integration.test_http_client import Alerts

INTENT = {"id": "pi_1", "object": "payment_intent", "amount": 4300, "currency": "krw",
          "status": "succeeded", "client_secret": "pi_1_secret_abc"}


async def stripe_stand_in(aiohttp_server: Any, answers: list[tuple[dict[str, Any],
                                                                   dict[str, str]]]) -> Any:
    """Answers each request with the next (body, headers) of `answers`."""

    async def intent(request: web.Request) -> web.Response:
        body, headers = answers.pop(0)
        return web.json_response(body, headers=headers)

    app = web.Application()
    app.router.add_route("*", "/v1/payment_intents/{intent}", intent)
    return await aiohttp_server(app)


async def incidents() -> list[dict[str, Any]]:
    rows = await Incident.select().where(Incident.kind == "provider_drift").order_by(
        Incident.opened_at)
    return [{**row, "detail": json.loads(row["detail"])} for row in rows]


async def test_an_unknown_status_opens_one_incident_with_the_exchange_as_evidence(
        container: Any, aiohttp_server: Any) -> None:
    answers = [(INTENT, {}),
               ({**INTENT, "status": "requires_shipping_info"}, {}),
               ({**INTENT, "status": "requires_shipping_info"}, {}),
               ({key: value for key, value in INTENT.items() if key != "currency"}, {})]
    server = await stripe_stand_in(aiohttp_server, answers)
    http = OutboundHttp(container.ledger(), Alerts(), timeout_seconds=5, retries=0,
                        breaker_threshold=5, breaker_ttl_seconds=30,
                        drift=DriftReports(container.uow(), container.queue()),
                        contracts=CONTRACTS)
    url = str(server.make_url("/v1/payment_intents/pi_1"))
    headers = {"Authorization": "Bearer sk_test_not_for_evidence"}
    for _ in range(4):
        response = await http.request("stripe", "GET", url, subject="payment:p1",
                                      headers=headers)
        assert response.status == 200  # the answer is still used as it is
    await http.close()

    opened = await incidents()
    assert [(i["detail"]["drift"], i["detail"]["where"], i["detail"]["value"])
            for i in opened] == [("unknown_value", "status", "requires_shipping_info"),
                                 ("missing_field", "currency", "")]
    assert opened[0]["subject"] == "drift:stripe:unknown_value:status:requires_shipping_info"
    [evidence] = await EvidenceRecord.select().where(
        (EvidenceRecord.kind == "provider.drift")
        & (EvidenceRecord.subject == opened[0]["subject"]))
    exchange = json.loads(evidence["payload"])
    assert exchange["response"]["body"]["status"] == "requires_shipping_info"
    assert exchange["request"]["path"] == "/v1/payment_intents/pi_1"
    assert "sk_test_not_for_evidence" not in evidence["payload"]
    assert json.loads(evidence["context"])["incident_id"] == opened[0]["id"]
    alerts = [json.loads(row["payload"]) for row in await OutboxMessage.select().where(
        OutboxMessage.topic == "RaiseAlert")]
    assert {alert["detail"]["incident_id"] for alert in alerts} == {i["id"] for i in opened}
    assert {alert["severity"] for alert in alerts} == {"critical"}


async def test_a_sunset_header_opens_a_drift_incident_once_across_processes(
        container: Any, aiohttp_server: Any) -> None:
    sunset = {"Sunset": "Sat, 31 Dec 2027 23:59:59 GMT", "Deprecation": "@1798761599"}
    server = await stripe_stand_in(aiohttp_server, [(INTENT, sunset), (INTENT, sunset)])
    url = str(server.make_url("/v1/payment_intents/pi_1"))
    # Two processes' clients: the second finds the incident the first opened.
    for _ in range(2):
        http = OutboundHttp(container.ledger(), Alerts(), timeout_seconds=5, retries=0,
                            breaker_threshold=5, breaker_ttl_seconds=30,
                            drift=DriftReports(container.uow(), container.queue()),
                            contracts=CONTRACTS)
        await http.request("stripe", "GET", url, subject="payment:p1")
        await http.close()
    opened = await incidents()
    assert sorted((i["detail"]["drift"], i["detail"]["value"]) for i in opened) == [
        ("deprecation", "@1798761599"), ("sunset", "Sat, 31 Dec 2027 23:59:59 GMT")]
    alerts = [json.loads(row["payload"]) for row in await OutboxMessage.select().where(
        OutboxMessage.topic == "RaiseAlert")]
    assert sorted(alert["severity"] for alert in alerts) == ["warning", "warning"]
