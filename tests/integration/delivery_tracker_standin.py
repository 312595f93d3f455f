"""A stand-in for Delivery Tracker's GraphQL tracking API, for the client's tests.

Written from Delivery Tracker's published schema (shlee322/delivery-tracker,
packages/api/src/schema/schema.graphql) and its documentation at tracker.delivery: NOT recorded
from the real API. The tracking webhook (`Mutation.registerTrackWebhook`, its
`RegisterTrackWebhookInput` and its Boolean answer) is in the hosted API's published schema
reference (tracker.delivery/docs/api-schema) and its "Tracking Webhook API" page, not in the
open-source server's file. The SDL below is our own short description of the part of the schema
the client touches (and the contact fields it must never ask for); every incoming query is
parsed and validated against it with graphql-core, then executed on the parcels a test sets up.
tests/cassettes/README.md says how to record a real exchange to compare with.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import aiohttp
from aiohttp import web
from graphql import (
    DocumentNode,
    ExecutionResult,
    FieldNode,
    GraphQLError,
    build_schema,
    execute,
    parse,
    validate,
)

SDL = """
scalar DateTime

type Query {
  track(carrierId: ID!, trackingNumber: String!): TrackInfo
}

type Mutation {
  registerTrackWebhook(input: RegisterTrackWebhookInput!): Boolean
}

input RegisterTrackWebhookInput {
  carrierId: ID!
  trackingNumber: String!
  callbackUrl: String!
  expirationTime: DateTime!
}

type TrackInfo {
  trackingNumber: String!
  lastEvent: TrackEvent
  events(first: Int, after: String, last: Int, before: String): TrackEventConnection
  sender: ContactInfo
  recipient: ContactInfo
}

type TrackEvent {
  status: TrackEventStatus!
  time: DateTime
  location: Location
  contact: ContactInfo
  description: String
}

type TrackEventConnection {
  edges: [TrackEventEdge]
  pageInfo: PageInfo!
}

type TrackEventEdge {
  node: TrackEvent
  cursor: String!
}

type TrackEventStatus {
  code: TrackEventStatusCode!
  name: String
}

enum TrackEventStatusCode {
  UNKNOWN
  INFORMATION_RECEIVED
  AT_PICKUP
  IN_TRANSIT
  OUT_FOR_DELIVERY
  ATTEMPT_FAIL
  DELIVERED
  AVAILABLE_FOR_PICKUP
  EXCEPTION
}

type Location {
  countryCode: String
  postalCode: String
  name: String
}

type ContactInfo {
  name: String
  location: Location
  phoneNumber(allowInvalidFormat: Boolean): String
}

type PageInfo {
  hasNextPage: Boolean!
  hasPreviousPage: Boolean!
  startCursor: String
  endCursor: String
}
"""
SCHEMA = build_schema(SDL)
API_KEY = "TRACKQL-API-KEY test-client:test-secret"
CONTACT = {"name": "홍길동", "phoneNumber": "+821012345678", "location": None}


def event(code: str, time: str | None, description: str = "", name: str = "") -> dict[str, Any]:
    return {"status": {"code": code, "name": name or code.title()}, "time": time,
            "description": description, "location": {"name": "서울 강남"}, "contact": CONTACT}


@dataclass
class Parcel:
    """What the stand-in answers for one tracking number: its events, one more revealed per
    look when `reveal_one_per_look`, or as many as `shown_per_look` says at each look (the
    last number for every look after; 0: the carrier has no record yet, NOT_FOUND), or an
    `error` code (NOT_FOUND, BAD_REQUEST, INTERNAL) or `http_status` instead of an answer."""

    events: list[dict[str, Any]] = field(default_factory=list)
    last_event: dict[str, Any] | None = None
    error: str = ""
    http_status: int = 200
    reveal_one_per_look: bool = False
    shown_per_look: list[int] = field(default_factory=list)
    looks: int = 0


@dataclass
class Webhook:
    """A registered tracking webhook: where to call back, until when."""

    callback_url: str
    expires_at: datetime


@dataclass
class StandIn:
    parcels: dict[str, Parcel] = field(default_factory=dict)
    queries: list[DocumentNode] = field(default_factory=list)
    variables: list[dict[str, Any]] = field(default_factory=list)
    invalid: list[str] = field(default_factory=list)  # validation errors: must stay empty
    webhooks: dict[str, Webhook] = field(default_factory=dict)  # by "carrierId/trackingNumber"
    now: Callable[[], datetime] = lambda: datetime.now(UTC)  # what "expired" is measured by
    webhooks_failing: bool = False  # registerTrackWebhook answers INTERNAL

    def requested_fields(self) -> set[str]:
        """Every field name any received query selected."""
        names: set[str] = set()

        def walk(node: Any) -> None:
            for selection in getattr(getattr(node, "selection_set", None), "selections", ()):
                if isinstance(selection, FieldNode):
                    names.add(selection.name.value)
                walk(selection)

        for document in self.queries:
            for definition in document.definitions:
                walk(definition)
        return names

    def track(self, _info: Any, carrierId: str, trackingNumber: str) -> Any:
        """The `track` field; graphql-core passes the arguments under their schema names."""
        parcel = self.parcels.get(f"{carrierId}/{trackingNumber}")
        if parcel is None or parcel.error == "NOT_FOUND":
            raise GraphQLError("운송장 정보를 찾을 수 없습니다.", extensions={"code": "NOT_FOUND"})
        if parcel.error:
            raise GraphQLError(f"{parcel.error.lower()} error",
                               extensions={"code": parcel.error})
        parcel.looks += 1
        shown = parcel.events[:parcel.looks] if parcel.reveal_one_per_look else parcel.events
        if parcel.shown_per_look:
            count = parcel.shown_per_look[min(parcel.looks, len(parcel.shown_per_look)) - 1]
            shown = parcel.events[:count]
            if not shown:
                raise GraphQLError("운송장 정보를 찾을 수 없습니다.",
                                   extensions={"code": "NOT_FOUND"})
        last = parcel.last_event or (shown[-1] if shown else None)
        return {"trackingNumber": trackingNumber, "lastEvent": last,
                "events": lambda _info, **_page: {
                    "edges": [{"node": e, "cursor": str(i)} for i, e in enumerate(shown)],
                    "pageInfo": {"hasNextPage": False, "hasPreviousPage": False}},
                "sender": CONTACT, "recipient": CONTACT}

    def register_track_webhook(self, _info: Any, input: dict[str, Any]) -> bool:
        """`registerTrackWebhook`: registering again extends; a time already past removes."""
        if self.webhooks_failing:
            raise GraphQLError("internal error", extensions={"code": "INTERNAL"})
        try:
            expires_at = datetime.fromisoformat(str(input["expirationTime"]))
        except ValueError:
            raise GraphQLError("expirationTime is not an ISO 8601 time",
                               extensions={"code": "BAD_REQUEST"}) from None
        if expires_at.tzinfo is None or not str(input["callbackUrl"]).startswith(
                ("http://", "https://")):
            raise GraphQLError("a callback URL and a time with its offset are needed",
                               extensions={"code": "BAD_REQUEST"})
        key = f"{input['carrierId']}/{input['trackingNumber']}"
        if expires_at <= self.now():
            self.webhooks.pop(key, None)
        else:
            self.webhooks[key] = Webhook(str(input["callbackUrl"]), expires_at)
        return True

    async def call_back(self, carrier_id: str, tracking_number: str) -> int:
        """What Delivery Tracker does when the parcel changes: POST its carrier and number
        (nothing else) to the registered callback URL; the status answered."""
        hook = self.webhooks[f"{carrier_id}/{tracking_number}"]
        async with aiohttp.ClientSession() as session, session.post(
                hook.callback_url,
                json={"carrierId": carrier_id, "trackingNumber": tracking_number}) as answer:
            return answer.status

    async def handle(self, request: web.Request) -> web.Response:
        if request.headers.get("Authorization") != API_KEY:
            return web.json_response({"errors": [{"message": "unauthorized"}]}, status=401)
        body = await request.json()
        document = parse(body["query"])
        problems = validate(SCHEMA, document)
        if problems:
            self.invalid.extend(p.message for p in problems)
            return web.json_response({"errors": [p.formatted for p in problems]}, status=400)
        self.queries.append(document)
        variables = body.get("variables") or {}
        self.variables.append(variables)
        named = variables.get("input") or variables  # the mutation names it in its input
        parcel = self.parcels.get(f"{named.get('carrierId')}/{named.get('trackingNumber')}")
        if parcel is not None and parcel.http_status != 200:
            return web.json_response({"message": "upstream failed"}, status=parcel.http_status)
        result = execute(SCHEMA, document, root_value={
            "track": self.track, "registerTrackWebhook": self.register_track_webhook},
            variable_values=variables)
        assert isinstance(result, ExecutionResult)  # every resolver here is synchronous
        answer: dict[str, Any] = {"data": result.data}
        if result.errors:
            answer["errors"] = [e.formatted for e in result.errors]
        return web.json_response(answer)


def application(stand_in: StandIn) -> web.Application:
    app = web.Application()
    app.router.add_post("/graphql", stand_in.handle)
    return app
