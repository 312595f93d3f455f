"""Twilio's message status callbacks: each signed with X-Twilio-Signature, checked before
anything is read, then the message's delivery status moves on (never back)."""

from __future__ import annotations

from typing import Literal
from urllib.parse import parse_qsl

from aiohttp import web

from entrypoints.http.api import (
    BadRequest,
    RouteTable,
    UnsupportedMediaType,
    container,
    json_response,
    read_body,
)
from entrypoints.http.schemas.fields import Answer

table = RouteTable("webhooks")
SIGNATURE = {"name": "X-Twilio-Signature", "in": "header", "required": True,
             "schema": {"type": "string"},
             "description": "Base64 HMAC-SHA1 with the auth token over the URL and the "
                            "sorted posted parameters"}
FORM = {"type": "object", "properties": {
    "MessageSid": {"type": "string"}, "MessageStatus": {"type": "string"},
    "ErrorCode": {"type": "string"}}, "additionalProperties": {"type": "string"}}


class StatusCallbackAck(Answer):
    """recorded: the message's status moved on; ignored: a status we had already, a message
    not ours, or a status that is not one of an outgoing message."""

    status: Literal["recorded", "ignored"]


@table.add("POST", "/v1/webhooks/twilio/status",
           "Receive Twilio's signed status callback of an SMS: verified, then the delivery "
           "status recorded", responses={200: StatusCallbackAck, 400: None, 415: None},
           auth=None, params=[SIGNATURE], content_type="application/x-www-form-urlencoded",
           form=FORM)
async def twilio_status(request: web.Request) -> web.Response:
    media = request.headers.get("Content-Type", "").partition(";")[0].strip().lower()
    if media != "application/x-www-form-urlencoded":
        raise UnsupportedMediaType("Twilio's status callbacks are posted as "
                                   "application/x-www-form-urlencoded")
    # Parsed from the bytes here, not through the card-number guard: a phone number in
    # To or From can pass the Luhn check, and refusing it would lose the callback.
    try:
        params = parse_qsl((await read_body(request, any_type=True)).decode("utf-8"),
                           keep_blank_values=True, strict_parsing=False, max_num_fields=100)
    except (UnicodeDecodeError, ValueError):
        raise BadRequest("the posted form cannot be read: send it urlencoded in UTF-8, "
                         "with at most 100 fields") from None
    services = container(request)
    update = services.twilio_status_callbacks().read(
        request.headers.get("X-Twilio-Signature", ""), params)
    if update is None:
        return json_response(StatusCallbackAck(status="ignored"))
    recorded = await services.messaging().record_status(
        "twilio", update.provider_message_id, update.status, update.error_code)
    return json_response(StatusCallbackAck(status="recorded" if recorded else "ignored"))
