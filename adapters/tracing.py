"""Traces (OpenTelemetry): one purchase is one trace, from the storefront's request through
the provider calls and the background work it hands to the workers, to the webhook that
settles it. Off unless MALL_OTLP_ENDPOINT names a collector (then exported over OTLP/HTTP);
with tracing off every span is a no-op and costs next to nothing.

The spans are ours rather than the aiohttp instrumentations': those record whole URLs, and
ours carry secrets in places (a GA4 api_secret in a query, a callback token in a path).
Spans name a route by its template and a provider call by the provider.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from typing import Any

from opentelemetry import context, propagate, trace
from opentelemetry.trace import Span, SpanKind, Status, StatusCode

TRACER = trace.get_tracer("mall")
TRACE_OPTION = "traceparent"  # a task message's option carrying its trace context


def configure_export(endpoint: str, service_name: str = "mall") -> bool:
    """Export spans to an OTLP/HTTP collector; False (nothing changed) without an endpoint.
    Once per process: OpenTelemetry keeps the first tracer provider set."""
    if not endpoint:
        return False
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint)))
    trace.set_tracer_provider(provider)
    return True


def carrier() -> dict[str, str]:
    """The current trace context as W3C headers (empty when there is none)."""
    headers: dict[str, str] = {}
    propagate.inject(headers)
    return headers


@contextlib.contextmanager
def span(name: str, kind: SpanKind = SpanKind.INTERNAL,
         parent: Mapping[str, str] | None = None,
         attributes: Mapping[str, Any] | None = None) -> Iterator[Span]:
    """A span, current while the block runs; `parent`: W3C headers to continue (a request's,
    a task message's), else the current context."""
    parent_context = propagate.extract(dict(parent)) if parent else None
    with TRACER.start_as_current_span(name, context=parent_context, kind=kind,
                                      attributes=dict(attributes or {})) as current:
        yield current


def server_span(name: str, headers: Mapping[str, str],
                attributes: Mapping[str, Any]) -> contextlib.AbstractContextManager[Span]:
    """The span of a request this server answers, continuing the caller's trace."""
    parent = {key: headers[key] for key in ("traceparent", "tracestate") if key in headers}
    return span(name, SpanKind.SERVER, parent or None, attributes)


def failed(current: Span, reason: str) -> None:
    current.set_status(Status(StatusCode.ERROR, reason[:200]))


def trace_id() -> str:
    """The current trace's id in hex, for log lines ("" outside any recorded trace)."""
    found = trace.get_current_span().get_span_context()
    return format(found.trace_id, "032x") if found.is_valid else ""


class Attached:
    """A trace context attached on one thread and detached later on the same thread (a
    Dramatiq middleware's before and after hooks)."""

    def __init__(self, headers: Mapping[str, str], name: str) -> None:
        self._span = TRACER.start_span(name, context=propagate.extract(dict(headers)),
                                       kind=SpanKind.CONSUMER)
        self._token = context.attach(trace.set_span_in_context(self._span))

    def end(self, error: BaseException | None = None) -> None:
        if error is not None:
            failed(self._span, type(error).__name__)
        self._span.end()
        context.detach(self._token)
