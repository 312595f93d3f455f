"""Unsubscribing from promotional messages without signing in: the one-click POST a mail
client sends for a List-Unsubscribe header (RFC 8058), and the page the link opens in a
browser, which asks before it withdraws (link scanners open links; they do not press
buttons)."""

from __future__ import annotations

from html import escape
from typing import Literal

from aiohttp import web

from domain.failures import preferred_language
from entrypoints.http.api import BadRequest, RouteTable, container, json_response, read_form
from entrypoints.http.schemas.fields import Answer

table = RouteTable("unsubscribe")
TOKEN = {"name": "token", "in": "path", "required": True,
         "schema": {"type": "string", "minLength": 16, "maxLength": 2048},
         "description": "the signed token of the link in the email"}
ONE_CLICK = {"type": "object", "properties": {
    "List-Unsubscribe": {"type": "string", "enum": ["One-Click"]},
    "via": {"type": "string", "enum": ["page"],
            "description": "sent by the page's button: answered with a redirect to the page"}}}
# The token is in the address: no page it leads to may pass it on, keep it, or be indexed.
PAGE_HEADERS = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer",
                "X-Robots-Tag": "noindex", "Content-Security-Policy":
                "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'"}

WHAT = {
    "en": {"marketing_email": "promotional emails", "marketing_sms": "promotional text messages",
           "marketing_push": "promotional push notifications",
           "marketing_night": "promotional messages between 21:00 and 08:00"},
    "ko": {"marketing_email": "광고성 이메일", "marketing_sms": "광고성 문자 메시지",
           "marketing_push": "광고성 푸시 알림",
           "marketing_night": "야간(21시~08시) 광고성 정보"},
}
TEXT = {
    "en": {"title": "Unsubscribe", "ask": "Stop receiving {what} from us?",
           "button": "Unsubscribe",
           "done": "You no longer receive {what}. You can opt in again at any time in your "
                   "account's settings."},
    "ko": {"title": "수신 거부", "ask": "{what} 수신을 거부하시겠습니까?", "button": "수신 거부",
           "done": "{what} 수신이 거부되었습니다. 계정 설정에서 언제든지 다시 동의할 수 "
                   "있습니다."},
}


class UnsubscribedOut(Answer):
    """The consent the link named is withdrawn (it may have been already)."""

    purpose: Literal["marketing_email", "marketing_sms", "marketing_push", "marketing_night"]
    granted: Literal[False] = False


def _token(request: web.Request) -> str:
    token = request.match_info["token"]
    if not 16 <= len(token) <= 2048:
        raise BadRequest("the unsubscribe link is incomplete: open the whole link from the "
                         "email")
    return token


def page(token: str, purpose: str, granted: bool, language: str) -> str:
    text, what = TEXT[language], WHAT[language][purpose]
    if granted:
        body = (f'<p>{escape(text["ask"].format(what=what))}</p>'
                f'<form method="post" action="/v1/unsubscribe/{escape(token)}">'
                '<input type="hidden" name="List-Unsubscribe" value="One-Click">'
                '<input type="hidden" name="via" value="page">'
                f'<button type="submit">{escape(text["button"])}</button></form>')
    else:
        body = f'<p>{escape(text["done"].format(what=what))}</p>'
    return (f'<!doctype html><html lang="{language}"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f'<title>{escape(text["title"])}</title></head>'
            '<body style="font-family: sans-serif; max-width: 32rem; margin: 3rem auto">'
            f'<h1>{escape(text["title"])}</h1>{body}</body></html>')


@table.add("GET", "/v1/unsubscribe/{token}", "The page an unsubscribe link opens: it asks "
           "before withdrawing the consent (a button), or says it is withdrawn",
           responses={200: None, 401: None}, auth=None, params=[TOKEN],
           content_type="text/html")
async def unsubscribe_page(request: web.Request) -> web.Response:
    token = _token(request)
    purpose, granted = await container(request).unsubscriptions().state(token)
    language = preferred_language(request.headers.get("Accept-Language"))
    return web.Response(text=page(token, purpose, granted, language), content_type="text/html",
                        headers=PAGE_HEADERS)


@table.add("POST", "/v1/unsubscribe/{token}", "One-click unsubscribe (RFC 8058): withdraws "
           "the consent the link names, without signing in; repeating it changes nothing",
           responses={200: UnsubscribedOut, 303: None, 401: None}, auth=None,
           params=[TOKEN], form=ONE_CLICK)
async def unsubscribe(request: web.Request) -> web.Response:
    # RFC 8058 clients post "List-Unsubscribe=One-Click"; one that posts nothing is heard too.
    # The form is read (and a card number in it refused) before the link is judged.
    form = await read_form(request) if request.body_exists else {}
    token = _token(request)
    via_page = form.get("via") == "page"
    purpose = await container(request).unsubscriptions().withdraw(
        token, method="page" if via_page else "one_click")
    if via_page:  # back to the page, which now says the consent is withdrawn
        raise web.HTTPSeeOther(f"/v1/unsubscribe/{token}", headers=PAGE_HEADERS)
    return json_response(UnsubscribedOut(purpose=purpose))
