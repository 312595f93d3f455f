"""Delivery Tracker's tracking webhook: it says only which parcel changed (carrierId and
trackingNumber) and signs nothing, so the unguessable token in the address we registered is
its credential, and the call only sets off a look at the parcel through the tracking API."""

from __future__ import annotations

from typing import Literal

from aiohttp import web

from entrypoints.http.api import RouteTable, container, json_response, load_json, read_body
from entrypoints.http.schemas.fields import Answer

table = RouteTable("webhooks")
TOKEN = {"name": "token", "in": "path", "required": True, "schema": {"type": "string"},
         "description": "MALL_DELIVERY_TRACKER_WEBHOOK_TOKEN, as in the registered callback URL"}


class TrackingCallbackAck(Answer):
    """accepted: the parcel is looked at again; ignored: no parcel of ours has that number
    (the callback is recorded all the same)."""

    status: Literal["accepted", "ignored"]


@table.add("POST", "/v1/webhooks/delivery-tracker/{token}",
           "Receive Delivery Tracker's callback that a parcel changed: recorded, and the "
           "parcel looked at again", responses={200: TrackingCallbackAck, 400: None, 404: None},
           auth=None, params=[TOKEN])
async def parcel_changed(request: web.Request) -> web.Response:
    # Read as JSON but not through the card-number guard: a 13-digit tracking number can pass
    # the Luhn check, and refusing it would lose the callback.
    body = load_json(await read_body(request))
    outcome = await container(request).parcel_tracking().callback(
        request.match_info["token"], body)
    return json_response(TrackingCallbackAck(status=outcome))
