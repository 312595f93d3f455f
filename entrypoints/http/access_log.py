"""The HTTP access log without query strings: callbacks carry authorization codes and
states, and links carry single-use tokens, in their query; the path is enough to operate."""

from __future__ import annotations

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger


class PathOnlyAccessLogger(AbstractAccessLogger):
    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        self.logger.info('%s "%s %s" %s %s %.1fms', request.remote, request.method,
                         request.path, response.status, response.body_length, time * 1000)
