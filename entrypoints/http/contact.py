"""How the customer is reached besides their email: mobile number, language, time zone."""

from __future__ import annotations

from aiohttp import web
from pydantic import Field

from application.messaging.contact import ContactChange, contact_of
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


class ContactIn(Strict):
    phone: str | None = Field(None, max_length=24, examples=["+821012345678"],
                              description="mobile number in E.164 form; \"\" removes it")
    language: str | None = Field(None, max_length=8, examples=["ko"],
                                 description="en or ko; \"\": from the country")
    time_zone: str | None = Field(None, max_length=64, examples=["Asia/Seoul"],
                                  description="an IANA time zone; \"\": from the country")


class ContactOut(Answer):
    phone: str
    language: str
    time_zone: str
    effective_language: str = Field(description="the language messages are written in")
    effective_time_zone: str = Field(description="the clock quiet hours are counted by")


def _answer(contact: object) -> web.Response:
    return json_response(ContactOut.model_validate(contact, from_attributes=True))


@table.add("GET", "/v1/me/contact", "How messages reach you besides email",
           responses={200: ContactOut, 401: None})
async def contact(request: web.Request) -> web.Response:
    customer = await current_customer(request)
    return _answer(contact_of(customer))


@table.add("PATCH", "/v1/me/contact", "Change your mobile number, language or time zone (the "
           "fields given; \"\" clears one)", request=ContactIn,
           responses={200: ContactOut, 401: None, 422: None})
async def change_contact(request: web.Request) -> web.Response:
    customer = await current_customer(request)
    body = parse(ContactIn, await read_body(request))
    changed = await container(request).contact().change(customer.id, ContactChange(
        phone=body.phone, language=body.language, time_zone=body.time_zone))
    return _answer(changed)
