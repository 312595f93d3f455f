"""The HTTP access log without query strings: callbacks carry authorization codes and
states, and links carry single-use tokens, in their query; the path is enough to operate.
Paths that are credentials themselves (a webhook address with its secret token, a signed
unsubscribe link) are logged with that part withheld."""

from __future__ import annotations

import re

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger

# The path segment after these prefixes is a secret: whoever reads it could call us as the
# provider, or withdraw a customer's consent.
_SECRET_TAIL = re.compile(r"^(/v1/webhooks/delivery-tracker/|/v1/unsubscribe/)[^/]+")


def loggable_path(path: str) -> str:
    return _SECRET_TAIL.sub(r"\1[withheld]", path)


class PathOnlyAccessLogger(AbstractAccessLogger):
    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        self.logger.info('%s "%s %s" %s %s %.1fms', request.remote, request.method,
                         loggable_path(request.path), response.status, response.body_length,
                         time * 1000)
