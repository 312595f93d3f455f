"""The dev mailbox keeps every message in the database: another process (a second mailbox on
the same database) and a restart see them, newest first; a retried envelope is kept once."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from adapters.messaging.mailbox import DevMailbox
from adapters.messaging.rendering import JinjaTemplateRenderer
from application.ports import Envelope, Notification, RenderedMessage
from domain.messages import Channel

LINK = "http://127.0.0.1:8080/v1/auth/email/verify?token=tok.en"


class SteppingClock:
    def __init__(self, start: Any) -> None:
        self.at = start

    def now(self) -> Any:
        self.at += timedelta(seconds=1)
        return self.at


def envelope(message_id: str, channel: str, to: str, text: str, template: str = "verify_email",
             link: str = "") -> Envelope:
    data = {"template": template, **({"link": link} if link else {})}
    return Envelope(message_id, channel, to, RenderedMessage("Confirm your email address", text,
                                                             "<p>html</p>"), data=data)


async def test_every_channel_is_kept_for_every_process_newest_first(container: Any) -> None:
    clock = SteppingClock(container.clock().now())
    mailbox = DevMailbox(clock)
    senders = mailbox.senders()
    assert {s.channel for s in senders.values()} == {c.value for c in Channel}
    assert {s.name for s in senders.values()} == {"mailbox"}
    receipt = await senders["email"].send(envelope("m1", "email", "ann@example.com",
                                                   f"Welcome!\n\n{LINK}\n\nIgnore otherwise."))
    await senders["sms"].send(envelope("m2", "sms", "+821012345678", "Order o1 shipped",
                                       template="shipment_in_transit"))
    await senders["push"].send(envelope("m3", "push", "device-token-1",
                                        "Delivery problem: https://x.example/o/1. Choose.",
                                        template="delivery_exception"))
    assert receipt.provider == "mailbox" and receipt.provider_message_id.startswith("mbx_")
    assert receipt.status == "sent"

    other_process = DevMailbox(clock)  # nothing in memory: all from the table
    kept = await other_process.messages()
    assert [m.message_id for m in kept] == ["m3", "m2", "m1"]
    assert [m.channel for m in kept] == ["push", "sms", "email"]
    assert kept[2].html == "<p>html</p>" and kept[2].subject == "Confirm your email address"
    assert kept[0].links == ["https://x.example/o/1"]
    assert await other_process.find_link("ann@example.com", "verify_email") == LINK
    assert await other_process.find_link("ann@example.com", "password_reset") is None
    assert other_process.last_link("ann@example.com", "verify_email") is None
    assert mailbox.last_link("ann@example.com", "verify_email") == LINK
    only_ann = await other_process.messages(recipient="ann@example.com")
    assert [m.message_id for m in only_ann] == ["m1"]
    assert [m.message_id for m in await other_process.messages(template="delivery_exception")
            ] == ["m3"]
    assert len(await other_process.messages(limit=2)) == 2


async def test_a_retried_envelope_is_kept_once(container: Any) -> None:
    mailbox = DevMailbox(SteppingClock(container.clock().now()))
    first = await mailbox.keep(envelope("m1", "email", "ann@example.com", LINK))
    again = await mailbox.keep(envelope("m1", "email", "ann@example.com", LINK))
    other = await mailbox.keep(envelope("m1", "sms", "+821012345678", LINK))
    assert first == again and other != first
    assert len(await mailbox.messages()) == 2


async def test_only_the_newest_messages_are_kept(container: Any) -> None:
    mailbox = DevMailbox(SteppingClock(container.clock().now()), keep=3)
    for n in range(5):
        await mailbox.keep(envelope(f"m{n}", "email", "ann@example.com", f"message {n}"))
    assert [m.message_id for m in await mailbox.messages()] == ["m4", "m3", "m2"]


async def test_the_link_named_by_the_dispatcher_wins_and_notices_are_kept(
        container: Any) -> None:
    mailbox = DevMailbox(SteppingClock(container.clock().now()))
    await mailbox.keep(envelope("m1", "email", "ann@example.com",
                                f"See https://mall.example/help then {LINK}",
                                link=LINK))
    assert mailbox.last_link("ann@example.com", "verify_email") == LINK
    await mailbox.send(Notification("email", "seller:s1", "delivery_exception_seller",
                                    {"order_id": "o1", "incident_id": "inc_1",
                                     "reason": "nobody home"}))
    notice = (await mailbox.messages(recipient="seller:s1"))[0]
    assert notice.template == "delivery_exception_seller" and "inc_1" in notice.text
    assert notice.subject.startswith("Delivery problem on order o1 (nobody home)")
    assert mailbox.sent[-1].recipient == "seller:s1"

    written = DevMailbox(SteppingClock(container.clock().now()),
                         renderer=JinjaTemplateRenderer())
    await written.send(Notification("email", "seller:s2", "delivery_exception_seller",
                                    {"order_id": "o2", "incident_id": "inc_2",
                                     "problem": "lost"}))
    notice = (await written.messages(recipient="seller:s2"))[0]
    assert notice.subject == "Delivery problem on order o2"
    assert "the parcel was lost" in notice.text and notice.html.startswith("<!DOCTYPE html>")


async def test_the_container_has_one_mailbox(container: Any) -> None:
    assert container.mailbox() is container.mailbox()
    assert isinstance(container.mailbox(), DevMailbox)
