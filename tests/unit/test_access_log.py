"""The access log and the error log never write a path segment that is a credential."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from aiohttp.test_utils import make_mocked_request
from aiohttp.web import Response

from entrypoints.http.access_log import PathOnlyAccessLogger, loggable_path

TOKEN = "dt_" + "s3cret" * 6


@pytest.mark.parametrize(("path", "logged"), [
    (f"/v1/webhooks/delivery-tracker/{TOKEN}", "/v1/webhooks/delivery-tracker/[withheld]"),
    (f"/v1/unsubscribe/{TOKEN}", "/v1/unsubscribe/[withheld]"),
    ("/v1/orders/ord_1", "/v1/orders/ord_1"),
    ("/v1/webhooks/stripe", "/v1/webhooks/stripe"),
])
def test_secret_path_segments_are_withheld(path: str, logged: str) -> None:
    assert loggable_path(path) == logged


def test_the_access_log_line_holds_no_token(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("test.access")
    request: Any = make_mocked_request(
        "POST", f"/v1/webhooks/delivery-tracker/{TOKEN}?x=1")
    with caplog.at_level(logging.INFO, logger="test.access"):
        PathOnlyAccessLogger(logger, "").log(request, Response(status=404), 0.001)
    [line] = [r.getMessage() for r in caplog.records]
    assert TOKEN not in line and "x=1" not in line
    assert "/v1/webhooks/delivery-tracker/[withheld]" in line
