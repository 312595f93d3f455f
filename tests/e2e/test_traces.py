"""One purchase is one trace: the storefront's payment request, the gateway call, the work
handed to the worker, and the webhook the sandbox gateway sends back, in one trace (an
in-memory exporter takes the spans)."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from adapters.logs import JsonLineFormatter
from tests.helpers import USD_ORDER, eventually

TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
STOREFRONT_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"


@pytest.fixture(scope="module")
def exporter() -> Iterator[InMemorySpanExporter]:
    """OpenTelemetry takes one tracer provider per process: this module's, unless another
    was set first (then its spans are added to it)."""
    memory = InMemorySpanExporter()
    provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):
        provider = TracerProvider()
        trace.set_tracer_provider(provider)
    provider.add_span_processor(SimpleSpanProcessor(memory))
    yield memory
    memory.clear()


def of_trace(exporter: InMemorySpanExporter, trace_id: str) -> list[ReadableSpan]:
    return [s for s in exporter.get_finished_spans()
            if s.context is not None and format(s.context.trace_id, "032x") == trace_id]


async def test_a_purchase_is_one_trace_from_the_request_to_the_settling_webhook(
        shop_factory: Any, exporter: InMemorySpanExporter) -> None:
    shop = await shop_factory()
    auth = await shop.sign_up()
    order = await shop.place(auth, USD_ORDER)
    exporter.clear()
    response = await shop.client.post(
        f"/v1/orders/{order['id']}/payments", json={"payment_method": "pm_sandbox_success"},
        headers={**auth, "Idempotency-Key": "trace-1", "traceparent": TRACEPARENT})
    assert response.status == 200, await response.text()

    def names() -> set[str]:
        return {span.name for span in of_trace(exporter, STOREFRONT_TRACE)}

    async def settled() -> set[str] | None:
        seen = names()
        wanted = {"POST /v1/orders/{id}/payments", "sandbox call",
                  "POST /v1/webhooks/{provider}", "actor process_inbox_message"}
        # The actor's span ends with its batch: the follow-ups it ran too (notifications,
        # shipments), maybe after the webhook's.
        ran = any(name.startswith("actor run_outbox") for name in seen)
        return seen if wanted <= seen and ran else None

    await eventually(settled, what="the webhook's and the actor's spans in the purchase's trace")
    spans = of_trace(exporter, STOREFRONT_TRACE)
    request = next(s for s in spans if s.name == "POST /v1/orders/{id}/payments")
    assert request.parent is not None and format(request.parent.span_id, "016x") == (
        "00f067aa0ba902b7")  # the storefront's span
    # Routes by their template, never an id or a URL.
    for span in spans:
        shown = span.name + json.dumps(dict(span.attributes or {}))
        assert order["id"] not in shown and "://" not in shown, shown


def test_a_log_line_inside_a_trace_carries_its_id(exporter: InMemorySpanExporter) -> None:
    record = logging.LogRecord("mall", logging.INFO, __file__, 1, "inside", None, None)
    with trace.get_tracer("test").start_as_current_span("work") as span:
        line = json.loads(JsonLineFormatter().format(record))
    assert line["trace_id"] == format(span.get_span_context().trace_id, "032x")
    assert "trace_id" not in json.loads(JsonLineFormatter().format(record))
