"""The customer's push devices: an app registers its registration token after sign-in and
removes it on sign-out (a token FCM says is gone is removed by the mall itself)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from aiohttp import web
from pydantic import Field

from domain.devices import MAX_TOKEN_LENGTH
from entrypoints.http.api import (
    RouteTable,
    container,
    current_customer,
    json_response,
    parse,
    read_body,
)
from entrypoints.http.schemas.fields import Answer, Strict

table = RouteTable("storefront")
TOKEN = {"name": "token", "in": "path", "required": True,
         "schema": {"type": "string"},
         "description": "the registration token, as registered"}
# Registration tokens are URL-safe text (FCM: letters, digits, '-', '_' and ':'), so one
# travels in the DELETE's path as it is.
TOKEN_PATTERN = r"^[A-Za-z0-9_:\-.]+$"  # noqa: S105 - a pattern, not a secret


class DeviceIn(Strict):
    token: str = Field(min_length=1, max_length=MAX_TOKEN_LENGTH, pattern=TOKEN_PATTERN,
                       description="the registration token the app got from FCM")
    platform: Literal["android", "ios", "web"]


class DeviceOut(Answer):
    platform: Literal["android", "ios", "web"]
    registered_at: datetime


@table.add("POST", "/v1/me/devices", "Receive push notifications on this device: register the "
           "app's registration token (again after it changes; a token another account "
           "registered before moves to this one)", request=DeviceIn,
           responses={201: DeviceOut, 401: None, 422: None})
async def register_device(request: web.Request) -> web.Response:
    customer = await current_customer(request)
    body = parse(DeviceIn, await read_body(request))
    device = await container(request).push_devices().register(
        customer.id, body.token, body.platform)
    # The token is not echoed: the app has it, and answers may be logged on the way.
    return json_response(DeviceOut(platform=device.platform,
                                   registered_at=device.registered_at), status=201)


@table.add("DELETE", "/v1/me/devices/{token}", "Stop push notifications on this device",
           responses={204: None, 401: None, 404: None}, params=[TOKEN])
async def unregister_device(request: web.Request) -> web.Response:
    customer = await current_customer(request)
    await container(request).push_devices().unregister(customer.id, request.match_info["token"])
    return web.Response(status=204)
