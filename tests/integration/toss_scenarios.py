"""The Toss Payments scenarios the replay tests run and `tests/cassettes/record_toss.py`
records, the cassettes' configuration, and replaying a cassette through TossGateway."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import vcr
import yaml

from adapters.http import OutboundHttp
from adapters.payments.toss import TossGateway
from application.ports import PaymentRequest, ProviderCall
from domain.money import Money
from domain.payments import EventType, PaymentEvent, PaymentUpdate
from tests.helpers import RecordingLedger
from tests.integration.replay_http import replay_http, replaying_http

CASSETTES = Path(__file__).parent.parent / "cassettes"
RECORDED_URL = "http://127.0.0.1:18767"
STAND_IN_SECRET_KEY = "test_sk_standin_4Yq7Xk2mPz9Lw3Nb"
SECRET_PLACEHOLDER = "[filtered-secret]"
CUSTOMER = "cus_pseudo_5f1e0c9a7b3d4e21aa"  # a keyed hash, as the application passes it

# --- recording configuration ---------------------------------------------------------------


def _mask_secrets(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: (SECRET_PLACEHOLDER if k == "secret" and v else _mask_secrets(v))
                for k, v in value.items()}
    if isinstance(value, list):
        return [_mask_secrets(v) for v in value]
    return value


def filter_secrets(response: dict[str, Any]) -> dict[str, Any]:
    """Virtual-account `secret`s authenticate Toss's deposit callbacks: never on disk."""
    raw = response.get("body", {}).get("string")
    if not raw:
        return response
    try:
        body = json.loads(raw)
    except ValueError:
        return response
    masked = json.dumps(_mask_secrets(body), ensure_ascii=False).encode()
    response["body"]["string"] = masked
    for name in list(response.get("headers", {})):
        if name.lower() == "content-length":
            response["headers"][name] = [str(len(masked))]
    return response


def skip_stand_in_controls(request: Any) -> Any:
    """The stand-in's own controls (a customer's deposit) are not Toss: never recorded."""
    return None if "/stand-in/" in request.path else request


def toss_vcr(record_mode: str = "none") -> vcr.VCR:
    return vcr.VCR(
        cassette_library_dir=str(CASSETTES), record_mode=record_mode,
        match_on=["method", "scheme", "host", "port", "path", "body"],
        filter_headers=[("authorization", "Basic [filtered]")],
        before_record_request=skip_stand_in_controls,
        before_record_response=filter_secrets, decode_compressed_response=True,
    )


def outbound_http() -> OutboundHttp:
    return replay_http(RecordingLedger())


# --- scenarios -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Card:
    """A payment the widget authenticated: its paymentKey, our payment id, the amount."""

    payment_key: str
    order_id: str
    amount: int


Deposit = Callable[[str], Awaitable[None]]


def card_request(card: Card, idempotency_key: str) -> PaymentRequest:
    return PaymentRequest(
        payment_id="pay_" + card.order_id.removeprefix("ord_"), order_id=card.order_id,
        amount=Money(card.amount, "KRW"), method="card", method_token=card.payment_key,
        idempotency_key=idempotency_key, customer_reference=CUSTOMER, description="Jeju tea")


def account_request(order_id: str, amount: int, idempotency_key: str) -> PaymentRequest:
    return PaymentRequest(
        payment_id=order_id, order_id=f"ord_{order_id}", amount=Money(amount, "KRW"),
        method="virtual_account", method_token="", idempotency_key=idempotency_key,
        customer_reference=CUSTOMER, description="Jeju green tea x2, Celadon cup")


def call(reference: str, amount: int, key: str, reason: str = "") -> ProviderCall:
    return ProviderCall(reference, Money(amount, "KRW"), key, reason)


def refund_amounts(total: int) -> tuple[int, int, int]:
    """Two partial refunds, then one larger than what is left."""
    first, second = total // 3, total // 6
    return first, second, total - first


async def card_confirmed(gateway: TossGateway, card: Card) -> list[PaymentUpdate]:
    """Confirm; repeat with the same key (Toss answers the same); repeat with a new key (Toss
    says ALREADY_PROCESSED_PAYMENT, and the gateway asks for the order instead)."""
    return [await gateway.authorize(card_request(card, f"{card.order_id}:confirm")),
            await gateway.authorize(card_request(card, f"{card.order_id}:confirm")),
            await gateway.authorize(card_request(card, f"{card.order_id}:confirm-again"))]


async def card_declined(gateway: TossGateway, card: Card) -> list[PaymentUpdate]:
    return [await gateway.authorize(card_request(card, f"{card.order_id}:confirm"))]


async def account_issued(gateway: TossGateway, order_id: str,
                         amount: int) -> list[PaymentUpdate]:
    return [await gateway.authorize(account_request(order_id, amount, f"{order_id}:issue"))]


async def card_refunds(gateway: TossGateway, card: Card) -> list[PaymentUpdate]:
    confirmed = await gateway.authorize(card_request(card, f"{card.order_id}:confirm"))
    updates = [confirmed]
    for number, amount in enumerate(refund_amounts(card.amount), start=1):
        updates.append(await gateway.refund(call(
            card.payment_key, amount, f"rfd_{card.order_id}_{number}", "Customer returned items")))
    return updates


async def lookups(gateway: TossGateway, card_key: str, order_id: str,
                  amount: int) -> list[PaymentUpdate]:
    """A partly refunded card payment; a virtual account issued, issued again under a new
    key (Toss: the order exists), cancelled before any deposit, and looked up."""
    card = await gateway.lookup(card_key)
    issued = await gateway.authorize(account_request(order_id, amount, f"{order_id}:issue"))
    again = await gateway.authorize(account_request(order_id, amount, f"{order_id}:reissue"))
    assert issued.provider_reference
    return [card, issued, again,
            await gateway.cancel(call(issued.provider_reference, amount, f"{order_id}:cancel",
                                      "Order abandoned")),
            await gateway.lookup(issued.provider_reference)]


async def deposit_and_refund(gateway: TossGateway, order_id: str, amount: int,
                             deposit: Deposit | None) -> list[PaymentUpdate]:
    """A virtual account paid by the customer, then refunded: first without the account to
    send the money back to (Toss refuses), then with it."""
    issued = await gateway.authorize(account_request(order_id, amount, f"{order_id}:issue"))
    assert issued.provider_reference
    if deposit is not None:
        await deposit(order_id)
    key = issued.provider_reference
    return [issued, await gateway.lookup(key),
            await gateway.refund(call(key, amount, f"rfd_{order_id}_1")),
            await gateway.refund(call(key, amount, f"rfd_{order_id}_2"), refund_account={
                "bank": "88", "account_number": "110-000-000000", "holder": "Customer"})]


# --- replay helpers ----------------------------------------------------------------------------


def interactions(name: str) -> list[dict[str, Any]]:
    loaded = yaml.safe_load((CASSETTES / name).read_text())
    return list(loaded["interactions"])


def first_body(name: str) -> dict[str, Any]:
    body = interactions(name)[0]["request"]["body"]
    return body if isinstance(body, dict) else dict(json.loads(body))


def card_of(name: str) -> Card:
    body = first_body(name)
    return Card(body["paymentKey"], body["orderId"], body["amount"])


async def replay(name: str, scenario: Callable[[TossGateway], Awaitable[list[PaymentUpdate]]]
                 ) -> list[PaymentUpdate]:
    recorded_at = urlsplit(interactions(name)[0]["request"]["uri"])  # the stand-in or Toss
    async with replaying_http(RecordingLedger()) as http:
        gateway = TossGateway(http, "test_sk_replay_not_a_real_key",
                              base_url=f"{recorded_at.scheme}://{recorded_at.netloc}")
        with toss_vcr().use_cassette(name) as cassette:
            updates = await scenario(gateway)
            assert cassette.all_played, f"{name}: not every recorded exchange was asked for"
    return updates


def only(update: PaymentUpdate, event_type: EventType) -> PaymentEvent:
    [event] = [e for e in update.events if e.type == event_type]
    return event


def kinds(update: PaymentUpdate) -> list[EventType]:
    return [e.type for e in update.events]
