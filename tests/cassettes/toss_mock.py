"""A local stand-in for the Toss Payments v1 API, written from its public reference
(docs.tosspayments.com: 결제 승인, 가상계좌 발급, 결제 취소, 결제 조회, error codes), answering
with Payment objects of version 2022-11-16. Used only to record cassettes.

- Basic auth with the secret key as user name and an empty password; anything else is
  401 UNAUTHORIZED_KEY.
- POST /v1/payments/confirm: paymentKeys made by the widget are stood in for by
  `tgen_success...` (confirmed: DONE, card) and `tgen_decline...` (403 REJECT_CARD_PAYMENT);
  any other key is 404 NOT_FOUND_PAYMENT_SESSION, a second confirm of an order
  400 ALREADY_PROCESSED_PAYMENT, an amount under 100 won 400 BELOW_MINIMUM_AMOUNT.
- POST /v1/virtual-accounts: WAITING_FOR_DEPOSIT with a per-payment `secret`; an orderId
  used before is 400 DUPLICATED_ORDER_ID.
- POST /v1/payments/{paymentKey}/cancel: with `cancelAmount` a partial cancel (appended to
  `cancels`, `balanceAmount` lowered, PARTIAL_CANCELED), without it the whole balance
  (CANCELED). More than the balance is 403 NOT_CANCELABLE_AMOUNT; a cancelled payment 400
  ALREADY_CANCELED_PAYMENT; a partial cancel of an unpaid virtual account 403
  NOT_ALLOWED_PARTIAL_REFUND_WAITING_DEPOSIT; a refund of a paid one without
  `refundReceiveAccount` 400 INVALID_REQUEST.
- GET /v1/payments/{paymentKey} and /v1/payments/orders/{orderId}: 404 NOT_FOUND_PAYMENT.
- Idempotency-Key on a POST: a repeat with the same key, path and secret key gets the first
  answer again, whatever happened since.
- POST /stand-in/deposit/{orderId} (not Toss): the customer transfers the money.
"""

from __future__ import annotations

import base64
import binascii
import copy
import hashlib
import json
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, TypeGuard

from aiohttp import web

KST = timezone(timedelta(hours=9))


@dataclass
class Books:
    payments: dict[str, dict[str, Any]] = field(default_factory=dict)  # by paymentKey
    orders: dict[str, str] = field(default_factory=dict)  # orderId -> paymentKey
    replies: dict[tuple[str, str, str], tuple[int, dict[str, Any]]] = field(default_factory=dict)


BOOKS = web.AppKey("books", Books)


def now() -> str:
    return datetime.now(KST).isoformat(timespec="seconds")


def error(status: int, code: str, message: str) -> tuple[int, dict[str, Any]]:
    return status, {"code": code, "message": message}


def key_of(*parts: str) -> str:
    """Stable, letter-led keys: no long digit runs that would look like a card number."""
    return "T" + hashlib.sha256(":".join(parts).encode()).hexdigest()[:31].upper()


def account_number(order_id: str) -> str:
    digits = str(int(hashlib.sha256(order_id.encode()).hexdigest(), 16))[:11]
    return f"X{digits}"


def new_payment(payment_key: str, order_id: str, order_name: str, amount: int,
                method: str) -> dict[str, Any]:
    vat = round(amount / 11)
    return {
        "mId": "tosspayments", "version": "2022-11-16", "lastTransactionKey": None,
        "paymentKey": payment_key, "orderId": order_id, "orderName": order_name,
        "taxExemptionAmount": 0, "status": "READY", "requestedAt": now(), "approvedAt": None,
        "useEscrow": False, "cultureExpense": False, "card": None, "virtualAccount": None,
        "transfer": None, "mobilePhone": None, "giftCertificate": None, "cashReceipt": None,
        "cashReceipts": None, "discount": None, "cancels": None, "secret": None,
        "type": "NORMAL", "easyPay": None, "country": "KR", "failure": None,
        "isPartialCancelable": True,
        "receipt": {"url": f"https://dashboard.tosspayments.com/receipt/{payment_key}"},
        "checkout": {"url": f"https://api.tosspayments.com/v1/payments/{payment_key}/checkout"},
        "currency": "KRW", "totalAmount": amount, "balanceAmount": amount,
        "suppliedAmount": amount - vat, "vat": vat, "taxFreeAmount": 0, "method": method,
    }


def authorized(request: web.Request) -> str | None:
    """The secret key of a well-formed Basic header, None otherwise."""
    scheme, _, credentials = request.headers.get("Authorization", "").partition(" ")
    if scheme != "Basic":
        return None
    try:
        decoded = base64.b64decode(credentials, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    key, colon, password = decoded.partition(":")
    if not colon or password or not key.startswith(("test_sk_", "live_sk_")):
        return None
    return key


def positive_int(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def confirm(books: Books, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    payment_key, order_id, amount = body.get("paymentKey"), body.get("orderId"), \
        body.get("amount")
    if not (isinstance(payment_key, str) and isinstance(order_id, str) and positive_int(amount)):
        return error(400, "INVALID_REQUEST", "잘못된 요청입니다.")
    if order_id in books.orders:
        return error(400, "ALREADY_PROCESSED_PAYMENT", "이미 처리된 결제 입니다.")
    if amount < 100:
        return error(400, "BELOW_MINIMUM_AMOUNT",
                     "신용카드는 결제금액이 100원 이상, 계좌는 200원이상부터 결제가 가능합니다.")
    if payment_key.startswith("tgen_decline"):
        payment = new_payment(payment_key, order_id, "Order", amount, "카드")
        payment.update(status="ABORTED", failure={
            "code": "REJECT_CARD_PAYMENT",
            "message": "한도초과 혹은 잔액부족으로 결제에 실패했습니다."})
        books.payments[payment_key] = payment
        return error(403, "REJECT_CARD_PAYMENT", "한도초과 혹은 잔액부족으로 결제에 실패했습니다.")
    if not payment_key.startswith("tgen_success"):
        return error(404, "NOT_FOUND_PAYMENT_SESSION",
                     "결제 시간이 만료되어 결제 진행 데이터가 존재하지 않습니다.")
    payment = new_payment(payment_key, order_id, "Order", amount, "카드")
    payment.update(
        status="DONE", approvedAt=now(), lastTransactionKey=key_of(payment_key, "approve"),
        card={"issuerCode": "61", "acquirerCode": "31", "number": "43301234****123*",
              "installmentPlanMonths": 0, "isInterestFree": False, "interestPayer": None,
              "approveNo": "00000000", "useCardPoint": False, "cardType": "신용",
              "ownerType": "개인", "acquireStatus": "READY", "amount": amount})
    books.payments[payment_key] = payment
    books.orders[order_id] = payment_key
    return 200, payment


def issue_virtual_account(books: Books, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    order_id, amount = body.get("orderId"), body.get("amount")
    required = ("orderName", "customerName", "bank")
    if not (isinstance(order_id, str) and positive_int(amount)
            and all(isinstance(body.get(name), str) and body[name] for name in required)):
        return error(400, "INVALID_REQUEST", "잘못된 요청입니다.")
    if order_id in books.orders:
        return error(400, "DUPLICATED_ORDER_ID", "이미 승인 및 취소가 진행된 중복된 주문번호 "
                     "입니다. 다른 주문번호로 진행해주세요.")
    hours = body.get("validHours", 168)
    if not positive_int(hours) or hours > 2160:
        return error(400, "INVALID_REQUEST", "잘못된 요청입니다.")
    payment_key = "tviva" + key_of(order_id, "virtual-account")[1:21].lower()
    payment = new_payment(payment_key, order_id, body["orderName"], amount, "가상계좌")
    due = (datetime.now(KST) + timedelta(hours=hours)).isoformat(timespec="seconds")
    payment.update(
        status="WAITING_FOR_DEPOSIT", lastTransactionKey=key_of(payment_key, "issue"),
        secret=secrets.token_urlsafe(24),
        virtualAccount={"accountType": "일반", "accountNumber": account_number(order_id),
                        "bankCode": body["bank"], "customerName": body["customerName"],
                        "dueDate": due, "refundStatus": "NONE", "expired": False,
                        "settlementStatus": "INCOMPLETED", "refundReceiveAccount": None})
    books.payments[payment_key] = payment
    books.orders[order_id] = payment_key
    return 200, payment


def cancel(books: Books, payment_key: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    payment = books.payments.get(payment_key)
    if payment is None:
        return error(404, "NOT_FOUND_PAYMENT", "존재하지 않는 결제 정보 입니다.")
    if not isinstance(body.get("cancelReason"), str) or not body["cancelReason"]:
        return error(400, "INVALID_REQUEST", "잘못된 요청입니다.")
    if payment["status"] == "CANCELED":
        return error(400, "ALREADY_CANCELED_PAYMENT", "이미 취소된 결제 입니다.")
    if payment["status"] not in ("DONE", "PARTIAL_CANCELED", "WAITING_FOR_DEPOSIT"):
        return error(403, "NOT_CANCELABLE_PAYMENT", "취소 할 수 없는 결제 입니다.")
    waiting = payment["status"] == "WAITING_FOR_DEPOSIT"
    amount = body.get("cancelAmount", payment["balanceAmount"])
    if not positive_int(amount):
        return error(400, "INVALID_REQUEST", "잘못된 요청입니다.")
    if amount > payment["balanceAmount"]:
        return error(403, "NOT_CANCELABLE_AMOUNT", "취소 할 수 없는 금액 입니다.")
    if waiting and amount != payment["balanceAmount"]:
        return error(403, "NOT_ALLOWED_PARTIAL_REFUND_WAITING_DEPOSIT",
                     "입금 대기중인 결제는 부분 환불이 불가합니다.")
    account = payment["virtualAccount"]
    if account is not None and not waiting:
        refund_to = body.get("refundReceiveAccount")
        if not isinstance(refund_to, dict) or not all(
                refund_to.get(name) for name in ("bank", "accountNumber", "holderName")):
            return error(400, "INVALID_REQUEST", "잘못된 요청입니다.")
        account.update(refundStatus="COMPLETED", refundReceiveAccount={
            "bankCode": refund_to["bank"], "accountNumber": "*" * 8,
            "holderName": refund_to["holderName"]})
    transaction_key = key_of(payment_key, "cancel", str(len(payment["cancels"] or [])))
    balance = payment["balanceAmount"] - amount
    payment["cancels"] = [*(payment["cancels"] or []), {
        "transactionKey": transaction_key, "cancelReason": body["cancelReason"],
        "taxExemptionAmount": 0, "canceledAt": now(), "easyPayDiscountAmount": 0,
        "receiptKey": None, "cancelAmount": amount, "taxFreeAmount": 0,
        "refundableAmount": balance, "cancelStatus": "DONE", "cancelRequestId": None}]
    payment.update(balanceAmount=balance, lastTransactionKey=transaction_key,
                   status="CANCELED" if balance == 0 else "PARTIAL_CANCELED")
    return 200, payment


async def answer(request: web.Request) -> web.Response:
    secret_key = authorized(request)
    if secret_key is None:
        status, body = error(401, "UNAUTHORIZED_KEY",
                             "인증되지 않은 시크릿 키 혹은 클라이언트 키 입니다.")
        return web.json_response(body, status=status)
    books = request.app[BOOKS]
    if request.method == "GET":
        payment_key = request.match_info.get("payment_key") or books.orders.get(
            request.match_info.get("order_id", ""), "")
        payment = books.payments.get(payment_key)
        if payment is None:
            status, body = error(404, "NOT_FOUND_PAYMENT", "존재하지 않는 결제 정보 입니다.")
            return web.json_response(body, status=status)
        return web.json_response(payment)
    idempotency_key = request.headers.get("Idempotency-Key", "")
    if len(idempotency_key) > 300:
        status, body = error(400, "INVALID_IDEMPOTENCY_KEY", "멱등키가 올바르지 않습니다.")
        return web.json_response(body, status=status)
    replay_key = (secret_key, request.path, idempotency_key)
    if idempotency_key and replay_key in books.replies:
        status, body = books.replies[replay_key]
        return web.json_response(body, status=status)
    try:
        payload = json.loads(await request.read())
    except ValueError:
        payload = None
    if not isinstance(payload, dict):
        status, body = error(400, "INVALID_REQUEST", "잘못된 요청입니다.")
    elif request.path == "/v1/payments/confirm":
        status, body = confirm(books, payload)
    elif request.path == "/v1/virtual-accounts":
        status, body = issue_virtual_account(books, payload)
    else:
        status, body = cancel(books, request.match_info["payment_key"], payload)
    body = copy.deepcopy(body)  # the answer as it was then, not as the payment changes later
    if idempotency_key:
        books.replies[replay_key] = (status, body)
    return web.json_response(body, status=status)


async def deposit(request: web.Request) -> web.Response:
    """Not Toss: what the customer's bank transfer does to a waiting virtual account."""
    books = request.app[BOOKS]
    payment = books.payments.get(books.orders.get(request.match_info["order_id"], ""))
    if payment is None or payment["status"] != "WAITING_FOR_DEPOSIT":
        return web.json_response({"deposited": False}, status=409)
    payment.update(status="DONE", approvedAt=now(),
                   lastTransactionKey=key_of(payment["paymentKey"], "deposit"))
    return web.json_response({"deposited": True})


def make_app() -> web.Application:
    app = web.Application()
    app[BOOKS] = Books()
    app.router.add_post("/v1/payments/confirm", answer)
    app.router.add_post("/v1/virtual-accounts", answer)
    app.router.add_post("/v1/payments/{payment_key}/cancel", answer)
    app.router.add_get("/v1/payments/orders/{order_id}", answer)
    app.router.add_get("/v1/payments/{payment_key}", answer)
    app.router.add_post("/stand-in/deposit/{order_id}", deposit)
    return app
