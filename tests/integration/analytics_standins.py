"""Local stand-ins for Segment's HTTP Tracking API (`POST /v1/batch`) and GA4's Measurement
Protocol (`POST /mp/collect`). Each holds every request to the documented format and keeps
what it received; whatever breaks the format is answered as the service would (a 400 for
Segment; GA4 answers 2xx to anything, so its stand-in also lists the violations for the test
to see) and listed in `violations`. `fail_next` makes the next answers a given status."""

from __future__ import annotations

import base64
import json
import re
from datetime import datetime
from typing import Any

from aiohttp import web

SEGMENT_MAX_EVENT = 32 * 1024
SEGMENT_MAX_BATCH = 500 * 1024
GA4_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,39}$")
GA4_RESERVED = {"ad_click", "app_remove", "error", "first_open", "first_visit",
                "session_start", "user_engagement", "notification_open"}


class StandIn:
    def __init__(self) -> None:
        self.violations: list[str] = []
        self.fail_next: list[int] = []
        self.requests = 0

    def _scripted(self) -> web.Response | None:
        self.requests += 1
        if self.fail_next:
            return web.json_response({"error": "scripted"}, status=self.fail_next.pop(0))
        return None


class SegmentStandIn(StandIn):
    """Segment's `/v1/batch`: Basic auth with the write key as user name and an empty
    password; a JSON body `{"batch": [...], ...}` under 500 KB; each call under 32 KB with a
    `type`, a `messageId`, a `userId` or `anonymousId`, an ISO 8601 `timestamp`, `context` and
    `properties` objects, and an `event` name for a track call."""

    def __init__(self, write_key: str) -> None:
        super().__init__()
        self.write_key = write_key
        self.batches: list[dict[str, Any]] = []

    def application(self) -> web.Application:
        app = web.Application(client_max_size=4 * SEGMENT_MAX_BATCH)
        app.router.add_post("/v1/batch", self._batch)
        return app

    @property
    def calls(self) -> list[dict[str, Any]]:
        return [call for batch in self.batches for call in batch["batch"]]

    def _refuse(self, why: str, status: int = 400) -> web.Response:
        self.violations.append(why)
        return web.json_response({"error": why}, status=status)

    async def _batch(self, request: web.Request) -> web.Response:
        scripted = self._scripted()
        if scripted is not None:
            return scripted
        expected = "Basic " + base64.b64encode(f"{self.write_key}:".encode()).decode()
        if request.headers.get("Authorization") != expected:
            return self._refuse("the write key is not the Basic auth user name", 401)
        raw = await request.read()
        if len(raw) > SEGMENT_MAX_BATCH:
            return self._refuse(f"batch of {len(raw)} bytes is over 500 KB")
        try:
            body = json.loads(raw)
        except ValueError:
            return self._refuse("the body is not JSON")
        calls = body.get("batch") if isinstance(body, dict) else None
        if not isinstance(calls, list) or not calls:
            return self._refuse("no batch list")
        for call in calls:
            problem = self._call_problem(call)
            if problem:
                return self._refuse(problem)
        self.batches.append(body)
        return web.json_response({"success": True})

    @staticmethod
    def _call_problem(call: Any) -> str:
        if not isinstance(call, dict):
            return "a call is not an object"
        if len(json.dumps(call).encode()) > SEGMENT_MAX_EVENT:
            return "a call is over 32 KB"
        if call.get("type") != "track" or not isinstance(call.get("event"), str):
            return "a call is not a track call with an event name"
        if not (call.get("userId") or call.get("anonymousId")):
            return "a call has neither userId nor anonymousId"
        if not isinstance(call.get("messageId"), str) or not call["messageId"]:
            return "a call has no messageId"
        try:
            datetime.fromisoformat(call["timestamp"])
        except (KeyError, TypeError, ValueError):
            return "a call's timestamp is not ISO 8601"
        for member in ("properties", "context"):
            if not isinstance(call.get(member, {}), dict):
                return f"a call's {member} is not an object"
        return ""


class Ga4StandIn(StandIn):
    """GA4's `/mp/collect?measurement_id=...&api_secret=...`: `{"client_id", "events"}`, 1 to
    25 events, each with a valid, unreserved name and at most 25 valid params (text values
    at most 100 characters), `timestamp_micros` in microseconds."""

    def __init__(self, measurement_id: str, api_secret: str) -> None:
        super().__init__()
        self.measurement_id, self.api_secret = measurement_id, api_secret
        self.bodies: list[dict[str, Any]] = []

    def application(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/mp/collect", self._collect)
        return app

    @property
    def events(self) -> list[dict[str, Any]]:
        return [event for body in self.bodies for event in body["events"]]

    async def _collect(self, request: web.Request) -> web.Response:
        scripted = self._scripted()
        if scripted is not None:
            return scripted
        if (request.query.get("measurement_id") != self.measurement_id
                or request.query.get("api_secret") != self.api_secret):
            self.violations.append("wrong measurement_id or api_secret")
            return web.Response(status=204)  # GA4 drops it silently
        body = await request.json()
        problems = self._problems(body)
        self.violations.extend(problems)
        if not problems:
            self.bodies.append(body)
        return web.Response(status=204)

    @staticmethod
    def _problems(body: Any) -> list[str]:
        if not isinstance(body, dict) or set(body) - {"client_id", "user_id", "events",
                                                       "timestamp_micros", "user_properties",
                                                       "consent", "non_personalized_ads"}:
            return ["unknown top-level members"]
        problems = []
        if not isinstance(body.get("client_id"), str) or not body["client_id"]:
            problems.append("no client_id")
        events = body.get("events")
        if not isinstance(events, list) or not 1 <= len(events) <= 25:
            return [*problems, "events is not a list of 1 to 25"]
        for event in events:
            name = event.get("name", "")
            if not GA4_NAME.match(name) or name in GA4_RESERVED or name.startswith(
                    ("google_", "ga_", "firebase_")):
                problems.append(f"event name {name!r} breaks GA4's rules")
            params = event.get("params", {})
            if not isinstance(params, dict) or len(params) > 25:
                problems.append("params is not an object of at most 25")
                continue
            for key, value in params.items():
                if not GA4_NAME.match(key) or key.startswith(("google_", "ga_", "firebase_")):
                    problems.append(f"param name {key!r} breaks GA4's rules")
                if isinstance(value, str) and len(value) > 100:
                    problems.append(f"param {key!r} is over 100 characters")
            micros = event.get("timestamp_micros")
            if micros is not None and not (isinstance(micros, int) and len(str(micros)) == 16):
                problems.append("timestamp_micros is not in microseconds")
        return problems
