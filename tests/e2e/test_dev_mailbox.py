"""The dev mailbox on the real app: a new customer registers, opens /sandbox/mailbox, follows
the link in their verification email and is verified; a forgotten password is reset the same
way. The page lists messages newest first with their links clickable and escapes what it
shows; it exists only with the sandbox."""

from __future__ import annotations

import html
import re
import uuid
from typing import Any
from urllib.parse import urlsplit

import pytest

from application.ports import Envelope, RenderedMessage
from entrypoints.http import mailbox, openapi, sandbox
from entrypoints.http.app import TABLES
from tests.helpers import eventually

pytestmark = pytest.mark.timeout(90)
PASSWORD = "correct horse battery"


async def mailbox_json(shop: Any, **query: str) -> list[dict[str, Any]]:
    response = await shop.client.get("/sandbox/mailbox", params={"format": "json", **query})
    assert response.status == 200, await response.text()
    return list((await response.json())["messages"])


async def link_on_the_page(shop: Any, email: str, path: str) -> str:
    """Open the mailbox page as a browser does and take the first link to `path` in a
    message to `email`."""

    async def find() -> str | None:
        response = await shop.client.get("/sandbox/mailbox", params={"to": email},
                                         headers={"Accept": "text/html,*/*;q=0.8"})
        assert response.status == 200
        assert response.content_type == "text/html"
        page = await response.text()
        hrefs = [html.unescape(h) for h in re.findall(r'<a href="([^"]+)"', page)]
        return next((h for h in hrefs if urlsplit(h).path == path), None)

    return await eventually(find, what=f"a link to {path} in the mailbox of {email}")


async def test_a_new_customer_verifies_their_address_through_the_mailbox(shop: Any) -> None:
    email = f"new.{uuid.uuid4().hex[:8]}@example.com"
    response = await shop.client.post("/v1/auth/register",
                                      json={"email": email, "password": PASSWORD})
    assert response.status == 201, await response.text()
    login = await shop.client.post("/v1/auth/login", json={"email": email, "password": PASSWORD})
    auth = {"Authorization": f"Bearer {(await login.json())['access_token']}"}
    me = await shop.client.get("/v1/me", headers=auth)
    assert (await me.json())["email_verified"] is False

    link = await link_on_the_page(shop, email, "/v1/auth/email/verify")
    followed = await shop.client.get(link.replace(str(shop.client.make_url("")), ""))
    assert followed.status == 200, await followed.text()
    me = await shop.client.get("/v1/me", headers=auth)
    assert (await me.json())["email_verified"] is True

    [message] = await mailbox_json(shop, to=email, template="verify_email")
    assert message["channel"] == "email" and message["link"] == link
    assert message["subject"] and link in message["text"] and message["html"]


async def test_a_forgotten_password_is_reset_through_the_mailbox(shop: Any) -> None:
    email = f"reset.{uuid.uuid4().hex[:8]}@example.com"
    await shop.sign_up(email, PASSWORD)
    forgot = await shop.client.post("/v1/auth/password/forgot", json={"email": email})
    assert forgot.status == 202
    link = await link_on_the_page(shop, email, "/v1/auth/password/reset")
    token = link.split("token=", 1)[1]
    reset = await shop.client.post("/v1/auth/password/reset",
                                   json={"token": token, "password": "a brand new passphrase"})
    assert reset.status == 204, await reset.text()
    login = await shop.client.post("/v1/auth/login",
                                   json={"email": email, "password": "a brand new passphrase"})
    assert login.status == 200


async def test_the_page_lists_newest_first_with_links_and_escapes_what_it_shows(
        shop: Any) -> None:
    mailbox = shop.container.mailbox()
    hostile = "<script>alert(1)</script>"
    for n, subject in enumerate(("first", f"second {hostile}")):
        await mailbox.keep(Envelope(
            f"msg-{n}", "email", "page@example.com",
            RenderedMessage(subject, f"Open https://mall.example/n/{n} now {hostile}",
                            f"<p>{subject}</p>"), data={"template": "promotion"}))
    response = await shop.client.get("/sandbox/mailbox", params={"to": "page@example.com"})
    assert response.status == 200 and response.content_type == "text/html"
    assert "script-src 'none'" in response.headers["Content-Security-Policy"]
    page = await response.text()
    assert "<script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert page.index("<h2>second") < page.index("<h2>first")  # newest first
    assert '<a href="https://mall.example/n/1">' in page
    # The HTML part is shown in a frame where nothing runs.
    assert 'sandbox="allow-popups' in page and 'srcdoc="&lt;p&gt;' in page

    as_json = await shop.client.get("/sandbox/mailbox", params={"to": "page@example.com"},
                                    headers={"Accept": "application/json"})
    messages = (await as_json.json())["messages"]
    assert [m["subject"] for m in messages] == [f"second {hostile}", "first"]
    assert messages[0]["links"] == ["https://mall.example/n/1"]
    assert messages[0]["template"] == "promotion" and messages[0]["to"] == "page@example.com"

    for bad in ({"format": "xml"}, {"limit": "0"}, {"to": "x" * 513}):
        refused = await shop.client.get("/sandbox/mailbox", params=bad)
        assert refused.status == 400, bad


async def test_the_mailbox_is_documented_and_exists_only_with_the_sandbox(
        shop_factory: Any) -> None:
    # The document a sandbox server serves, built here: two servers at once in one process
    # would share Dramatiq's one event-loop thread, and one of them would never stop it.
    document = openapi.build([op for table in (*TABLES, sandbox.table, mailbox.table)
                              for op in table.operations], "0.1.0")
    answer = document["paths"]["/sandbox/mailbox"]["get"]["responses"]["200"]["content"]
    assert set(answer) == {"text/html", "application/json"}
    assert answer["application/json"]["schema"]["$ref"].endswith("/MailboxOut")

    live = await shop_factory(payment_providers=[], carriers=[], identity_providers=[],
                              real_name_provider="none")
    assert (await live.client.get("/sandbox/mailbox")).status == 404
    document = await (await live.client.get("/v1/openapi.json")).json()
    assert "/sandbox/mailbox" not in document["paths"]
