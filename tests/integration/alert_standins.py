"""Stand-ins for PagerDuty's Events API v2 and a Slack incoming webhook, written from their
documentation (PagerDuty: "Send an Alert Event", "Acknowledge and Resolve Alerts", the
Events API v2 overview's response codes; Slack: "Sending messages using incoming webhooks"
and its error list), not recorded from the services.

Both check each request against the documented format and refuse what breaks it as the
service does (PagerDuty: 400 `invalid event` with the errors; Slack: 400 `invalid_payload`).
The PagerDuty stand-in keeps each alert by its dedup key, as PagerDuty folds events into
alerts: a trigger opens it (or updates it while open), an acknowledgement acknowledges it, a
resolution closes it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from aiohttp import web

PD_ACTIONS = ("trigger", "acknowledge", "resolve")
PD_SEVERITIES = ("critical", "error", "warning", "info")
PD_TOP_LEVEL = {"routing_key", "event_action", "dedup_key", "payload", "images", "links",
                "client", "client_url"}
PD_PAYLOAD = {"summary", "source", "severity", "timestamp", "component", "group", "class",
              "custom_details"}


def pagerduty_errors(body: Any, routing_keys: set[str]) -> list[str]:
    """What the Events API v2 refuses in `body`, in its words (an empty list: valid)."""
    if not isinstance(body, dict):
        return ["Event object is invalid"]
    errors = [f"'{name}' is not a known field" for name in sorted(set(body) - PD_TOP_LEVEL)]
    if body.get("routing_key") not in routing_keys:
        errors.append("'routing_key' is invalid")
    action = body.get("event_action")
    if action not in PD_ACTIONS:
        errors.append("'event_action' must be one of trigger, acknowledge, resolve")
    key = body.get("dedup_key")
    if key is not None and (not isinstance(key, str) or not 0 < len(key) <= 255):
        errors.append("'dedup_key' must be a string of at most 255 characters")
    if action in ("acknowledge", "resolve"):
        if key is None:
            errors.append("'dedup_key' is required to acknowledge or resolve")
        if "payload" in body:
            errors.append("'payload' is only for triggers")
    if action == "trigger":
        errors += _payload_errors(body.get("payload"))
    return errors


def _payload_errors(payload: Any) -> list[str]:
    if not isinstance(payload, dict):
        return ["'payload' is missing or not an object"]
    errors = [f"'payload.{name}' is not a known field"
              for name in sorted(set(payload) - PD_PAYLOAD)]
    summary = payload.get("summary")
    if not isinstance(summary, str) or not 0 < len(summary) <= 1024:
        errors.append("'payload.summary' is required (at most 1024 characters)")
    if not isinstance(payload.get("source"), str) or not payload.get("source"):
        errors.append("'payload.source' is required")
    if payload.get("severity") not in PD_SEVERITIES:
        errors.append("'payload.severity' must be one of critical, error, warning, info")
    if "timestamp" in payload:
        try:
            datetime.fromisoformat(str(payload["timestamp"]).replace("Z", "+00:00"))
        except ValueError:
            errors.append("'payload.timestamp' must be an ISO 8601 date and time")
    for name in ("component", "group", "class"):
        if name in payload and not isinstance(payload[name], str):
            errors.append(f"'payload.{name}' must be a string")
    if "custom_details" in payload and not isinstance(payload["custom_details"], dict):
        errors.append("'payload.custom_details' must be an object")
    return errors


@dataclass
class PagerDutyStandIn:
    routing_keys: set[str]
    events: list[dict[str, Any]] = field(default_factory=list)  # each event it took
    refused: list[list[str]] = field(default_factory=list)  # the errors of each refusal
    alerts: dict[str, dict[str, Any]] = field(default_factory=dict)  # by dedup key
    fail_next: list[int] = field(default_factory=list)  # statuses to answer first (429, 5xx)
    user_agents: list[str] = field(default_factory=list)

    def application(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/v2/enqueue", self._enqueue)
        return app

    def events_of(self, dedup_key: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e.get("dedup_key") == dedup_key]

    async def _enqueue(self, request: web.Request) -> web.Response:
        self.user_agents.append(request.headers.get("User-Agent", ""))
        if self.fail_next:
            status = self.fail_next.pop(0)
            return web.json_response({"status": "throttled" if status == 429 else "error",
                                      "message": "try again later"}, status=status)
        if request.content_type != "application/json":
            return self._invalid(["the body must be JSON (Content-Type: application/json)"])
        try:
            body = json.loads(await request.read())
        except ValueError:
            return self._invalid(["the body is not JSON"])
        errors = pagerduty_errors(body, self.routing_keys)
        if errors:
            return self._invalid(errors)
        self.events.append(body)
        action = body["event_action"]
        key = body.get("dedup_key") or f"pd-{len(self.events)}"
        alert = self.alerts.get(key)
        if action == "trigger" and (alert is None or alert["status"] == "resolved"):
            self.alerts[key] = {"status": "triggered", "payload": body["payload"]}
        elif action == "trigger" and alert is not None:
            alert["payload"] = body["payload"]  # a repeat updates the open alert
        elif alert is not None and alert["status"] != "resolved":
            alert["status"] = "acknowledged" if action == "acknowledge" else "resolved"
        return web.json_response({"status": "success", "message": "Event processed",
                                  "dedup_key": key}, status=202)

    def _invalid(self, errors: list[str]) -> web.Response:
        self.refused.append(errors)
        return web.json_response({"status": "invalid event",
                                  "message": "Event object is invalid", "errors": errors},
                                 status=400)


@dataclass
class SlackStandIn:
    """An incoming webhook at /services/<team>/<bot>/<secret>."""

    path: str = "/services/T0MALL/B0ALERTS/webhook-secret-of-the-test"
    messages: list[dict[str, Any]] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    fail_next: list[int] = field(default_factory=list)

    def application(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/services/{team}/{bot}/{secret}", self._post)
        return app

    async def _post(self, request: web.Request) -> web.Response:
        if request.path != self.path:
            return self._refuse(404, "no_service")
        if self.fail_next:
            return web.Response(status=self.fail_next.pop(0), text="rate_limited")
        if request.content_type != "application/json":
            return self._refuse(400, "invalid_payload")
        try:
            body = json.loads(await request.read())
        except ValueError:
            return self._refuse(400, "invalid_payload")
        if not isinstance(body, dict) or not isinstance(body.get("text"), str) \
                or not body["text"].strip():
            return self._refuse(400, "no_text")
        blocks = body.get("blocks", [])
        if not isinstance(blocks, list) or len(blocks) > 50 or not all(
                isinstance(b, dict) and isinstance(b.get("type"), str) for b in blocks):
            return self._refuse(400, "invalid_blocks")
        for block in blocks:
            text = block.get("text")
            if text is not None and (not isinstance(text, dict) or text.get("type") not in (
                    "mrkdwn", "plain_text") or len(str(text.get("text", ""))) > 3000):
                return self._refuse(400, "invalid_blocks")
        self.messages.append(body)
        return web.Response(text="ok")

    def _refuse(self, status: int, reason: str) -> web.Response:
        self.refused.append(reason)
        return web.Response(status=status, text=reason)
