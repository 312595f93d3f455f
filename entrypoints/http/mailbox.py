"""The dev mailbox's page: every message the sandbox kept instead of sending, newest first,
with its links clickable; the same as JSON for scripts. Mounted with the sandbox routes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aiohttp import web
from jinja2 import Environment, FileSystemLoader

from entrypoints.http.api import BadRequest, RouteTable, container, json_response, query_int
from entrypoints.http.schemas.sandbox import MailboxOut

table = RouteTable("sandbox")
# Autoescaped: every field of a message is text someone else chose (an address, a subject).
_PAGES = Environment(loader=FileSystemLoader(str(Path(__file__).with_name("templates"))),
                     autoescape=True)
FORMATS = ("html", "json")


def _wants_json(request: web.Request) -> bool:
    chosen = request.query.get("format", "")
    if chosen:
        if chosen not in FORMATS:
            raise BadRequest("format is html or json")
        return chosen == "json"
    accept = request.headers.get("Accept", "")
    return "application/json" in accept and "text/html" not in accept


def _web_link(url: str) -> str:
    return url if url.startswith(("https://", "http://")) else ""


@table.add("GET", "/sandbox/mailbox",
           "Sandbox: the dev mailbox, every email, SMS and push kept instead of sent, newest "
           "first: an HTML page with clickable links, or JSON with ?format=json or "
           "Accept: application/json",
           responses={200: MailboxOut, 400: None}, auth=None, content_type="text/html",
           params=[{"name": "format", "in": "query", "required": False,
                    "schema": {"type": "string", "enum": list(FORMATS)}},
                   {"name": "to", "in": "query", "required": False,
                    "description": "only messages to this address, number or device token",
                    "schema": {"type": "string", "maxLength": 512}},
                   {"name": "template", "in": "query", "required": False,
                    "description": "only messages of this type (verify_email, ...)",
                    "schema": {"type": "string", "maxLength": 64}},
                   {"name": "limit", "in": "query", "required": False,
                    "schema": {"type": "integer", "minimum": 1, "maximum": 200,
                               "default": 50}}])
async def mailbox_page(request: web.Request) -> web.Response:
    as_json = _wants_json(request)
    recipient = request.query.get("to", "")
    template = request.query.get("template", "")
    if len(recipient) > 512 or len(template) > 64:
        raise BadRequest("to is at most 512 characters and template at most 64")
    limit = query_int(request, "limit", 50, 1, 200)
    kept = await container(request).mailbox().messages(recipient, template, limit)
    messages: list[dict[str, Any]] = [{
        "id": m.id, "message_id": m.message_id, "channel": m.channel, "to": m.recipient,
        "template": m.template, "subject": m.subject, "text": m.text, "html": m.html,
        "link": _web_link(m.link), "links": m.links, "promotional": m.promotional,
        "sent_at": m.sent_at,
    } for m in kept]
    if as_json:
        return json_response({"messages": messages})
    page = _PAGES.get_template("mailbox.html").render(
        recipient=recipient,
        messages=[{**m, "recipient": m["to"]} for m in messages])
    return web.Response(text=page, content_type="text/html", charset="utf-8",
                        headers={"Cache-Control": "no-store",
                                 # No script runs here, nor in an email's HTML part shown.
                                 "Content-Security-Policy": "script-src 'none'; "
                                 "object-src 'none'; base-uri 'none'; form-action 'none'"})
