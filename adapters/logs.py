"""Structured logs: one JSON object per line, so no input can start a line of its own.

Whatever a request carries (a path with `%0a`, a NUL, a header) is a JSON string value here,
escaped by the encoder; the request id joins every line the request's task writes.
"""

from __future__ import annotations

import json
import logging
from contextvars import ContextVar
from datetime import UTC, datetime

from adapters.tracing import trace_id
from domain.redaction import redact_card_numbers

REQUEST_ID: ContextVar[str | None] = ContextVar("request_id", default=None)


class JsonLineFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(
                timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = REQUEST_ID.get()
        if request_id:
            line["request_id"] = request_id
        current_trace = trace_id()
        if current_trace:
            line["trace_id"] = current_trace
        if record.exc_info:
            # a traceback can quote input (a failing value): scrubbed like the message
            line["exception"] = redact_card_numbers(self.formatException(record.exc_info))
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        # ensure_ascii: every control character and line separator (U+2028) is escaped too
        return json.dumps(line, ensure_ascii=True, default=str)
