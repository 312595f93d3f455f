"""/metrics: the families operators watch, moving when a provider fails, and answered only
to operators."""

from __future__ import annotations

from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from tests.helpers import USD_ORDER

FAMILIES = {
    "mall_http_requests", "mall_http_request_duration_seconds", "mall_provider_calls",
    "mall_provider_call_duration_seconds", "mall_provider_breaker_state",
    "mall_outbox_messages", "mall_outbox_oldest_pending_age_seconds", "mall_inbox_messages",
    "mall_inbox_oldest_unprocessed_age_seconds", "mall_operations_slow",
    "mall_incidents_open", "mall_evidence_chain_length", "mall_evidence_pending",
    "mall_evidence_last_checkpoint_seq",
}


async def scrape(shop: Any, **headers: str) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    response = await shop.client.get("/metrics", headers=headers)
    assert response.status == 200, await response.text()
    assert response.headers["Content-Type"].startswith("text/plain")
    samples: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for family in text_string_to_metric_families(await response.text()):
        found = samples.setdefault(family.name, {})
        for sample in family.samples:
            if sample.name in (family.name, f"{family.name}_total"):
                found[tuple(sorted(sample.labels.items()))] = sample.value
    return samples


def value(samples: dict[str, Any], family: str, **labels: str) -> float:
    return float(samples.get(family, {}).get(tuple(sorted(labels.items())), 0.0))


async def test_the_families_show_and_a_failing_gateway_moves_its_errors_and_circuit(
        shop_factory: Any) -> None:
    shop = await shop_factory(breaker_threshold=2, breaker_ttl_seconds=300)
    auth = await shop.sign_up()
    before = await scrape(shop)
    assert FAMILIES <= set(before)
    failures = value(before, "mall_provider_calls", provider="sandbox", outcome="unavailable")

    for _ in range(3):  # the sandbox gateway is down: two failures open its circuit
        order = await shop.place(auth, USD_ORDER)
        status, answer = await shop.pay(auth, order["id"], "pm_sandbox_unavailable")
        assert answer.get("status") == "failed" or status == 503, answer
    after = await scrape(shop)
    assert value(after, "mall_provider_calls", provider="sandbox",
                 outcome="unavailable") == failures + 2
    assert value(after, "mall_provider_calls", provider="sandbox",
                 outcome="circuit_open") >= 0
    assert value(after, "mall_provider_breaker_state", provider="sandbox") == 2
    assert value(after, "mall_http_requests", method="POST", route="/v1/orders",
                 status="201") >= 3
    assert value(after, "mall_outbox_messages", status="pending") >= 0
    assert value(after, "mall_evidence_chain_length") + value(
        after, "mall_evidence_pending") > 0


async def test_with_a_token_only_its_bearer_is_answered(shop_factory: Any) -> None:
    shop = await shop_factory(metrics_token="operators-scrape-token-0123456789")
    response = await shop.client.get("/metrics")
    assert response.status == 403
    assert "MALL_METRICS_TOKEN" in (await response.json())["detail"]
    wrong = await shop.client.get("/metrics", headers={"Authorization": "Bearer nope"})
    assert wrong.status == 403
    assert "mall_provider_calls" in await scrape(
        shop, Authorization="Bearer operators-scrape-token-0123456789")
