"""Steps the privacy and account tests share: sandbox sign-in, admins, scans for personal
data in every table and in the captured logs, and waiting for background work."""

from __future__ import annotations

import json
import logging
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit

from adapters.persistence.tables import ALL_TABLES, MailboxMessage, OutboxMessage
from domain.commands import TrackEvent
from domain.customers import Role
from tests.helpers import eventually


def local(url: str) -> str:
    """A URL of the test server as a path and query the test client can follow."""
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}" if parts.query else parts.path


async def bearer(shop: Any, email: str, password: str) -> dict[str, str]:
    response = await shop.client.post("/v1/auth/login",
                                      json={"email": email, "password": password})
    assert response.status == 200, await response.text()
    return {"Authorization": f"Bearer {(await response.json())['access_token']}"}


async def admin_post(shop: Any, admin: dict[str, str], path: str,
                     body: dict[str, Any] | None = None, status: int = 200) -> dict[str, Any]:
    """An admin's POST, expected to answer `status`; its JSON answer."""
    response = await shop.client.post(path, json=body, headers=admin)
    assert response.status == status, await response.text()
    answer: dict[str, Any] = await response.json()
    return answer


async def admin_of(shop: Any) -> dict[str, str]:
    email = f"admin-{uuid.uuid4().hex[:6]}@example.com"
    await shop.container.accounts().register(email, "admin password 1", role=Role.ADMIN)
    return await bearer(shop, email, "admin password 1")


async def provider_round_trip(shop: Any, authorization_url: str, login_hint: str
                              ) -> tuple[int, dict[str, Any]]:
    """Play the customer at the sandbox provider's page and follow it back to our callback."""
    page = await shop.client.get(f"{local(authorization_url)}&login_hint={login_hint}",
                                 allow_redirects=False)
    assert page.status == 302, await page.text()
    callback = await shop.client.get(local(page.headers["Location"]), allow_redirects=False)
    return callback.status, dict(await callback.json())


async def sandbox_sign_in(shop: Any, login_hint: str, **query: str
                          ) -> tuple[int, dict[str, Any]]:
    """Sign in (or up) with the sandbox provider as `login_hint`."""
    path = "/v1/auth/sandbox/start" + (f"?{urlencode(query)}" if query else "")
    start = await shop.client.get(path, allow_redirects=False)
    assert start.status == 302, await start.text()
    return await provider_round_trip(shop, start.headers["Location"], login_hint)


async def link_sandbox(shop: Any, auth: dict[str, str], login_hint: str) -> dict[str, Any]:
    """Link the sandbox provider as `login_hint`: the callback names the account, and the
    customer confirms it."""
    response = await shop.client.post("/v1/me/identities/sandbox", headers=auth)
    assert response.status == 200, await response.text()
    status, body = await provider_round_trip(
        shop, (await response.json())["authorization_url"], login_hint)
    assert status == 200 and body["status"] == "link_pending", body
    assert body["account"]["subject"] == login_hint, body
    response = await shop.client.post("/v1/me/identities/confirm", headers=auth,
                                      json={"link_token": body["link_token"]})
    assert response.status == 200, await response.text()
    return dict(await response.json())


async def outbox_drained() -> None:
    """Wait until no outbox work is pending (notifications sent, analytics tracked)."""

    async def drained() -> bool:
        return int(await OutboxMessage.count().where(
            OutboxMessage.status.is_in(["pending", "processing"]))) == 0

    await eventually(drained, timeout=20, what="the outbox to drain")


@dataclass(frozen=True)
class Finding:
    where: str  # "table.column" or the logger name
    needle: str
    excerpt: str

    def __str__(self) -> str:
        return f"{self.needle!r} in {self.where}: {self.excerpt}"


def _excerpt(text: str, needle: str) -> str:
    at = text.find(needle)
    return text[max(0, at - 60):at + len(needle) + 60]


# The dev mailbox keeps what would have been sent, links and all (only with the sandbox): it
# is the recipients' side, not the mall's records.
KEPT_BY_THE_MALL = [table for table in ALL_TABLES if table is not MailboxMessage]


async def scan_tables(needles: dict[str, str],
                      tables: Any = KEPT_BY_THE_MALL) -> list[Finding]:
    """Every column of every row of `tables`, as text, searched for each needle."""
    found = []
    for table in tables:
        for row in await table.select():
            for column, value in row.items():
                if value is None:
                    continue
                text = str(value)
                for label, needle in needles.items():
                    if needle and needle in text:
                        found.append(Finding(f"{table._meta.tablename}.{column}", label,
                                             _excerpt(text, needle)))
    return found


def scan_logs(records: list[logging.LogRecord], needles: dict[str, str]) -> list[Finding]:
    found = []
    for record in records:
        text = record.getMessage()
        if record.exc_text:
            text += record.exc_text
        for label, needle in needles.items():
            if needle and needle in text:
                found.append(Finding(record.name, label, _excerpt(text, needle)))
    return found


def analytics_lines(records: list[logging.LogRecord]) -> list[dict[str, Any]]:
    """What the LogAnalyticsSink sent: one JSON event per line of `mall.analytics`."""
    return [json.loads(r.getMessage()) for r in records if r.name == "mall.analytics"]


async def analytics_payloads() -> list[dict[str, Any]]:
    rows = await OutboxMessage.select(OutboxMessage.payload).where(
        OutboxMessage.topic == TrackEvent.__name__)
    return [json.loads(row["payload"]) for row in rows]
