"""The SMTP email provider against a real SMTP server (aiosmtpd): what arrives, and what the
dispatcher is told when the recipient is refused or the server is down, slow or insecure."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from adapters.messaging.smtp import SmtpEmailSender, SmtpServer, build_message
from application.ports import Envelope, RenderedMessage
from domain.errors import ProviderUnavailable, RecipientRejected
from tests.smtp_peer import HOST, SmtpPeer, free_port, smtp_peer

SENDER = "Mall <no-reply@mall.test>"
CONTENT = RenderedMessage(
    subject="(광고) 주문 ord_1 확인", text="Hello Ada,\nyour order is confirmed.\n",
    html="<p>Hello Ada,<br>your order is <b>confirmed</b>.</p>")
# As long as a real one: a signed token of some 300 characters.
UNSUBSCRIBE = {"List-Unsubscribe": f"<https://mall.test/v1/unsubscribe/{'eyJ0' * 80}.sig>",
               "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}


def envelope(to: str = "ada@example.com", message_id: str = "cmp:spring:cus_1",
             **changes: object) -> Envelope:
    return Envelope(message_id=message_id, channel="email", to=to, content=CONTENT,
                    **changes)  # type: ignore[arg-type]


def plain(peer: SmtpPeer, timeout_seconds: float = 5) -> SmtpEmailSender:
    return SmtpEmailSender(SmtpServer(HOST, peer.port, tls="none",
                                      timeout_seconds=timeout_seconds), SENDER)


@pytest.fixture
def peer() -> Iterator[SmtpPeer]:
    with smtp_peer() as server:
        server.refuse["gone@example.com"] = "550 5.1.1 no such mailbox"
        server.refuse["busy@example.com"] = "451 4.3.0 try again later"
        server.refuse["many@example.com"] = "552 5.5.3 too many recipients"
        yield server


async def test_a_message_arrives_as_text_and_html_with_its_ids_and_headers(
        peer: SmtpPeer) -> None:
    receipt = await plain(peer).send(envelope(headers=UNSUBSCRIBE, promotional=True))
    [received] = peer.wait_for(1)
    message = received.message
    assert received.rcpt_tos == ["ada@example.com"]
    assert received.mail_from == "no-reply@mall.test"
    assert message["Subject"] == CONTENT.subject  # encoded on the wire, the same read back
    assert message["From"] == SENDER and message["To"] == "ada@example.com"
    assert message["X-Mall-Message-Id"] == "cmp:spring:cus_1"
    assert message["Message-ID"].endswith("@mall.test>")
    assert (receipt.provider, receipt.provider_message_id, receipt.status) == (
        "smtp", message["Message-ID"], "sent")
    # On the wire as written: one line, no RFC 2047 encoding, or mail clients see no URL.
    for name, value in UNSUBSCRIBE.items():
        assert f"\r\n{name}: {value}\r\n".encode() in received.raw
    assert message.get_content_type() == "multipart/alternative"
    text = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert text is not None and html is not None
    assert text.get_content().replace("\r\n", "\n") == CONTENT.text  # CRLF on the wire
    assert html.get_content().strip() == CONTENT.html


async def test_a_retry_carries_the_same_message_id_another_message_another(
        peer: SmtpPeer) -> None:
    sender = plain(peer)
    first = await sender.send(envelope())
    again = await sender.send(envelope())
    other = await sender.send(envelope(message_id="cmp:spring:cus_2"))
    assert first.provider_message_id == again.provider_message_id
    assert other.provider_message_id != first.provider_message_id
    assert len(peer.wait_for(3)) == 3


async def test_a_text_only_message_is_a_single_part(peer: SmtpPeer) -> None:
    content = RenderedMessage(subject="Verify", text="Confirm: https://mall.test/x")
    await plain(peer).send(Envelope("m1", "email", "ada@example.com", content))
    [received] = peer.wait_for(1)
    assert received.message.get_content_type() == "text/plain"
    assert received.message.get_content().strip() == "Confirm: https://mall.test/x"


async def test_a_permanently_refused_recipient_is_a_hard_bounce(peer: SmtpPeer) -> None:
    with pytest.raises(RecipientRejected) as refused:
        await plain(peer).send(envelope(to="gone@example.com"))
    assert refused.value.reason == "hard_bounce"
    assert "gone@example.com" not in str(refused.value)  # no address in what gets logged
    assert peer.refused == ["gone@example.com"] and peer.received == []


@pytest.mark.parametrize("to", ["busy@example.com", "many@example.com"])
async def test_a_recipient_refused_for_now_leaves_the_next_provider_to_try(
        peer: SmtpPeer, to: str) -> None:
    with pytest.raises(ProviderUnavailable) as unavailable:
        await plain(peer).send(envelope(to=to))
    assert unavailable.value.request_sent is False
    assert peer.received == []


async def test_a_server_that_is_down_is_unavailable_and_got_nothing() -> None:
    sender = SmtpEmailSender(SmtpServer(HOST, free_port(), tls="none", timeout_seconds=5),
                             SENDER)
    with pytest.raises(ProviderUnavailable) as unavailable:
        await sender.send(envelope())
    assert unavailable.value.request_sent is False


async def test_a_server_that_never_greets_is_unavailable_after_the_timeout() -> None:
    listener = socket.socket()
    listener.bind((HOST, 0))
    listener.listen()  # accepts connections and says nothing
    try:
        sender = SmtpEmailSender(SmtpServer(HOST, listener.getsockname()[1], tls="none",
                                            timeout_seconds=0.3), SENDER)
        with pytest.raises(ProviderUnavailable):
            await asyncio.wait_for(sender.send(envelope()), 5)
    finally:
        listener.close()


async def test_a_server_silent_after_the_message_may_have_it_and_says_so(
        peer: SmtpPeer) -> None:
    peer.data_delay = 2.0
    with pytest.raises(ProviderUnavailable) as unavailable:
        await plain(peer, timeout_seconds=0.3).send(envelope())
    # It may have taken the message: a retry carries the same Message-ID (receivers dedupe).
    assert unavailable.value.request_sent is True


async def test_starttls_with_the_servers_own_certificate_and_auth(tmp_path: Path) -> None:
    with smtp_peer(starttls_in=tmp_path, users={"mall": "s3cret"}) as peer:
        sender = SmtpEmailSender(SmtpServer(
            HOST, peer.port, tls="starttls", username="mall", password="s3cret",
            ca_file=peer.ca_file, timeout_seconds=5), SENDER)
        await sender.send(envelope())
        [received] = peer.wait_for(1)
    assert received.over_tls and received.authenticated_as == "mall"


# aiosmtpd warns of AUTH without STARTTLS: it does not count implicit TLS, which is TLS too.
@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
async def test_implicit_tls_with_auth(tmp_path: Path) -> None:
    with smtp_peer(implicit_tls_in=tmp_path, users={"mall": "s3cret"}) as peer:
        sender = SmtpEmailSender(SmtpServer(
            HOST, peer.port, tls="tls", username="mall", password="s3cret",
            ca_file=peer.ca_file, timeout_seconds=5), SENDER)
        await sender.send(envelope())
        [received] = peer.wait_for(1)
    assert received.over_tls and received.authenticated_as == "mall"


async def test_a_certificate_we_do_not_trust_stops_the_send(tmp_path: Path) -> None:
    with smtp_peer(starttls_in=tmp_path) as peer:
        sender = SmtpEmailSender(SmtpServer(HOST, peer.port, tls="starttls",
                                            timeout_seconds=5), SENDER)
        with pytest.raises(ProviderUnavailable, match="TLS") as unavailable:
            await sender.send(envelope())
    assert unavailable.value.request_sent is False and peer.received == []


async def test_wrong_credentials_are_unavailable_not_the_recipients_fault(
        tmp_path: Path) -> None:
    with smtp_peer(starttls_in=tmp_path, users={"mall": "s3cret"}) as peer:
        sender = SmtpEmailSender(SmtpServer(
            HOST, peer.port, tls="starttls", username="mall", password="wrong",
            ca_file=peer.ca_file, timeout_seconds=5), SENDER)
        with pytest.raises(ProviderUnavailable) as unavailable:
            await sender.send(envelope())
    assert unavailable.value.request_sent is False and peer.received == []


async def test_a_server_without_starttls_is_refused_when_starttls_is_required(
        peer: SmtpPeer) -> None:
    sender = SmtpEmailSender(SmtpServer(HOST, peer.port, tls="starttls",
                                        timeout_seconds=5), SENDER)
    with pytest.raises(ProviderUnavailable, match="STARTTLS") as unavailable:
        await sender.send(envelope())
    assert unavailable.value.request_sent is False
    assert peer.received == []  # never in plain text when TLS was asked for


def test_an_envelope_cannot_replace_the_messages_own_headers_or_inject_one() -> None:
    with pytest.raises(ValueError, match="own"):
        build_message(envelope(headers={"Message-ID": "<x@evil>"}), SENDER)
    for name, value in (("X-Campaign", "a\r\nBcc: all@example.com"),
                        ("X-Campaign", "봄"), ("X-Bad Name", "a"), ("X-Long", "a" * 995)):
        with pytest.raises(ValueError, match="one line of ASCII"):
            build_message(envelope(headers={name: value}), SENDER)


def test_a_sender_without_an_address_fails_at_start() -> None:
    with pytest.raises(ValueError, match="MALL_SMTP_SENDER"):
        SmtpEmailSender(SmtpServer(HOST, 25, tls="none"), "Mall")
