"""Email through a real SMTP server (aiosmtpd): the verification mail of a new account
arrives there and its link verifies the address through the API; a promotional mail carries
one-click unsubscribe headers that withdraw the consent."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest

from adapters.persistence.tables import MessageDelivery
from application.transactions import commit_and_dispatch, send
from domain.commands import SendNotification
from domain.deliveries import address_key
from tests.e2e.conftest import Shop
from tests.helpers import eventually
from tests.smtp_peer import HOST, Received, SmtpPeer, free_port, smtp_peer

SENDER = "Mall <no-reply@mall.test>"


@pytest.fixture
def peer() -> Iterator[SmtpPeer]:
    with smtp_peer() as server:
        yield server


@pytest.fixture
async def shop(shop_factory: Callable[..., Any], peer: SmtpPeer) -> Shop:
    shop: Shop = await shop_factory(
        email_providers=["smtp"], smtp_host=HOST, smtp_port=peer.port, smtp_tls="none",
        smtp_sender=SENDER)
    return shop


async def _mail_to(peer: SmtpPeer, address: str, count: int = 1) -> Received:
    async def arrived() -> list[Received]:
        mails = [r for r in peer.received if address in r.rcpt_tos]
        return mails if len(mails) >= count else []

    return (await eventually(arrived, what=f"mail number {count} to {address}"))[-1]


def _text(received: Received) -> str:
    part = received.message.get_body(("plain",))
    assert part is not None
    return str(part.get_content())


async def test_the_verification_mail_arrives_and_its_link_verifies_the_address(
        shop: Shop, peer: SmtpPeer) -> None:
    email = "ada@example.com"
    response = await shop.client.post("/v1/auth/register",
                                      json={"email": email, "password": "correct horse battery"})
    assert response.status == 201, await response.text()
    received = await _mail_to(peer, email)
    assert received.mail_from == "no-reply@mall.test"
    assert received.message["Message-ID"].endswith("@mall.test>")
    assert received.message["List-Unsubscribe"] is None  # transactional: nothing to leave
    links = re.findall(r"https?://\S+/v1/auth/email/verify\?token=[\w.-]+", _text(received))
    assert links, _text(received)
    link = urlsplit(links[0])
    assert f"{link.scheme}://{link.netloc}" == shop.container.settings().base_url
    verified = await shop.client.get(f"{link.path}?{link.query}")
    assert verified.status == 200, await verified.text()
    assert (await verified.json())["email_verified"] is True


async def test_a_promotional_mail_carries_one_click_unsubscribe_that_works(
        shop: Shop, peer: SmtpPeer) -> None:
    auth = await shop.sign_up("bo@example.com")
    granted = await shop.client.put("/v1/me/consents", headers=auth,
                                    json={"consents": {"marketing_email": True}})
    assert granted.status == 200, await granted.text()
    customer_id = (await (await shop.client.get("/v1/me", headers=auth)).json())["id"]
    async with shop.container.uow()() as uow:
        await send(uow, SendNotification("promotion", customer_id=customer_id,
                                         params={"title": "Spring sale",
                                                 "message": "Everything 20% off this week."}))
        await commit_and_dispatch(uow, shop.container.queue())
    received = await _mail_to(peer, "bo@example.com", count=2)  # after the verification mail
    message = received.message
    assert message["Subject"] == "Spring sale"
    assert b"\r\nList-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n" in received.raw
    # As a mail client reads it: one unencoded line holding the URL in angle brackets.
    [header] = re.findall(rb"\r\nList-Unsubscribe: <(https?://[^>\s]+)>\r\n", received.raw)
    url = urlsplit(header.decode())
    assert f"{url.scheme}://{url.netloc}" == shop.container.settings().base_url
    # What a mail client does when the reader presses its unsubscribe button (RFC 8058).
    pressed = await shop.client.post(url.path, data={"List-Unsubscribe": "One-Click"})
    assert pressed.status == 200, await pressed.text()
    consents = await (await shop.client.get("/v1/me/consents", headers=auth)).json()
    assert consents["consents"]["marketing_email"] is False


async def test_a_recipient_the_server_refuses_for_good_is_suppressed(
        shop: Shop, peer: SmtpPeer) -> None:
    email = "gone@example.com"
    peer.refuse[email] = "550 5.1.1 no such mailbox"
    response = await shop.client.post("/v1/auth/register",
                                      json={"email": email, "password": "correct horse battery"})
    assert response.status == 201, await response.text()

    async def suppression() -> str | None:
        async with shop.container.uow()(read_only=True) as uow:
            return await uow.messages.deliveries.suppression(address_key("email", email))

    assert await eventually(suppression, what="the address suppressed") == "hard_bounce"
    assert peer.refused == [email] and peer.received == []
    login = await shop.client.post("/v1/auth/login",
                                   json={"email": email, "password": "correct horse battery"})
    auth = {"Authorization": f"Bearer {(await login.json())['access_token']}"}
    again = await shop.client.post("/v1/auth/email/verification", headers=auth)
    assert again.status in (200, 202), await again.text()

    async def outcomes() -> list[str]:
        rows = await MessageDelivery.select(MessageDelivery.status).where(
            MessageDelivery.template == "verify_email").order_by(MessageDelivery.created_at)
        statuses = [str(row["status"]) for row in rows]
        return statuses if len(statuses) == 2 and "sending" not in statuses else []

    # The first refused (failed), the second never tried: the address is suppressed.
    assert await eventually(outcomes, what="both verification mails handled") == [
        "failed", "suppressed"]
    assert peer.refused == [email]


async def test_with_the_smtp_server_down_the_next_email_provider_gets_the_mail(
        shop_factory: Callable[..., Any]) -> None:
    shop: Shop = await shop_factory(
        email_providers=["smtp", "mailbox"], smtp_host=HOST, smtp_port=free_port(),
        smtp_tls="none", smtp_sender=SENDER)
    await shop.sign_up("cy@example.com", verified=True)  # the link came through the mailbox
