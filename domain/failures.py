"""One taxonomy of payment failures, whatever the provider, with what the customer can do.

Each provider adapter maps its own codes (Stripe `decline_code`/`code`, Toss `code`) to a
`FailureReason`; customers read `explain(reason, language)`: what happened, whether trying
again can work, what to do next and whom to contact. English and Korean.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class FailureReason(StrEnum):
    DECLINED = "declined"
    INSUFFICIENT_FUNDS = "insufficient_funds"
    EXPIRED_CARD = "expired_card"
    INCORRECT_CARD_DETAILS = "incorrect_card_details"
    AUTHENTICATION_REQUIRED = "authentication_required"
    LIMIT_EXCEEDED = "limit_exceeded"
    SUSPECTED_FRAUD = "suspected_fraud"
    UNSUPPORTED_METHOD = "unsupported_method"
    INVALID_REQUEST = "invalid_request"
    PROCESSING_ERROR = "processing_error"
    PROVIDER_UNAVAILABLE = "provider_unavailable"
    DEPOSIT_EXPIRED = "deposit_expired"
    AUTHENTICATION_ABANDONED = "authentication_abandoned"
    CANCELLED_BY_CUSTOMER = "cancelled_by_customer"
    REJECTED_IN_REVIEW = "rejected_in_review"


@dataclass(frozen=True)
class Explanation:
    reason: FailureReason
    retryable: bool  # can the same attempt work if simply tried again later
    contact: str  # "bank" | "support" | "none"
    message: str

    def as_dict(self) -> dict[str, object]:
        return {"reason": self.reason.value, "retryable": self.retryable,
                "contact": self.contact, "message": self.message}


LANGUAGES = ("en", "ko")

# reason: (retryable, contact, English, Korean)
_TEXT: dict[FailureReason, tuple[bool, str, str, str]] = {
    FailureReason.DECLINED: (
        False, "bank",
        "Your card issuer declined the payment. Use another card or payment method, or call "
        "the number on the back of your card to ask why.",
        "카드사에서 결제를 거절했습니다. 다른 카드나 결제 수단을 이용하시거나, 카드 뒷면의 "
        "카드사 번호로 거절 사유를 문의해 주세요."),
    FailureReason.INSUFFICIENT_FUNDS: (
        False, "bank",
        "The payment was declined for insufficient funds. Use another card or payment method; "
        "trying the same card again will not help until the balance allows it.",
        "잔액 또는 한도가 부족하여 결제가 거절되었습니다. 다른 카드나 결제 수단을 이용해 "
        "주세요. 같은 카드로 다시 시도해도 잔액이 충분해지기 전에는 결제되지 않습니다."),
    FailureReason.EXPIRED_CARD: (
        False, "bank",
        "This card has expired. Use another card; trying again will not help.",
        "유효기간이 지난 카드입니다. 다른 카드를 이용해 주세요. 다시 시도해도 결제되지 않습니다."),
    FailureReason.INCORRECT_CARD_DETAILS: (
        True, "none",
        "The card details were not accepted. Check the number, expiry date and security code "
        "and try again.",
        "카드 정보가 올바르지 않습니다. 카드 번호, 유효기간, 보안코드를 확인한 뒤 다시 시도해 "
        "주세요."),
    FailureReason.AUTHENTICATION_REQUIRED: (
        True, "bank",
        "Your bank needs you to confirm this payment. Try again and complete the bank's "
        "confirmation step; if it keeps failing, contact your bank.",
        "카드사 본인인증이 필요합니다. 다시 시도하여 카드사 인증 절차를 완료해 주세요. 계속 "
        "실패하면 카드사에 문의해 주세요."),
    FailureReason.LIMIT_EXCEEDED: (
        False, "bank",
        "The payment exceeds a limit set on your card or account. Use another payment method, "
        "or ask your bank to raise the limit.",
        "카드 또는 계좌의 결제 한도를 초과했습니다. 다른 결제 수단을 이용하시거나 카드사에 "
        "한도 상향을 요청해 주세요."),
    FailureReason.SUSPECTED_FRAUD: (
        False, "support",
        "This payment could not be accepted. Please contact customer support.",
        "이 결제는 처리할 수 없습니다. 고객센터로 문의해 주세요."),
    FailureReason.UNSUPPORTED_METHOD: (
        False, "none",
        "This payment method cannot be used for this order. Choose another payment method.",
        "이 주문에는 사용할 수 없는 결제 수단입니다. 다른 결제 수단을 선택해 주세요."),
    FailureReason.INVALID_REQUEST: (
        False, "support",
        "The payment could not be processed because of a problem on our side. Nothing was "
        "charged. Please contact customer support.",
        "저희 쪽 문제로 결제를 처리하지 못했습니다. 결제된 금액은 없습니다. 고객센터로 문의해 "
        "주세요."),
    FailureReason.PROCESSING_ERROR: (
        True, "support",
        "The payment could not be processed. Nothing was charged. Try again in a few minutes; "
        "if it keeps failing, contact customer support.",
        "결제를 처리하지 못했습니다. 결제된 금액은 없습니다. 몇 분 후 다시 시도해 주시고, 계속 "
        "실패하면 고객센터로 문의해 주세요."),
    FailureReason.PROVIDER_UNAVAILABLE: (
        True, "support",
        "The payment provider is not answering, so this payment did not go through. Try again "
        "in a few minutes or choose another payment option; should a charge for it appear "
        "later, we match it to your order or refund it.",
        "결제 대행사가 응답하지 않아 결제가 완료되지 않았습니다. 몇 분 후 다시 시도하시거나 다른 "
        "결제 수단을 선택해 주세요. 나중에 결제 내역이 보이면 주문에 반영하거나 환불해 드립니다."),
    FailureReason.DEPOSIT_EXPIRED: (
        False, "none",
        "The transfer deadline passed, so the order was cancelled and nothing was charged. "
        "Place the order again to buy these items.",
        "입금 기한이 지나 주문이 취소되었습니다. 결제된 금액은 없습니다. 상품을 구매하시려면 "
        "다시 주문해 주세요."),
    FailureReason.AUTHENTICATION_ABANDONED: (
        True, "none",
        "The bank's confirmation step was not completed in time, so this payment was "
        "cancelled and nothing was charged. You can pay for the order again.",
        "카드사 인증이 제시간에 완료되지 않아 결제가 취소되었습니다. 결제된 금액은 없으며, "
        "다시 결제하실 수 있습니다."),
    FailureReason.CANCELLED_BY_CUSTOMER: (
        True, "none",
        "The payment was cancelled before it completed; nothing was charged. You can pay for "
        "the order again.",
        "결제가 완료되기 전에 취소되었습니다. 결제된 금액은 없으며, 다시 결제하실 수 있습니다."),
    FailureReason.REJECTED_IN_REVIEW: (
        False, "support",
        "We could not accept this order after review, so it was cancelled and any payment "
        "released or refunded. Please contact customer support.",
        "검토 결과 주문을 승인할 수 없어 취소되었으며, 결제 금액은 승인 취소 또는 환불됩니다. "
        "고객센터로 문의해 주세요."),
}


def reason_of(code: str | None) -> FailureReason:
    """Our reason for a stored code; unknown codes are processing errors."""
    try:
        return FailureReason(code or FailureReason.PROCESSING_ERROR)
    except ValueError:
        return FailureReason.PROCESSING_ERROR


def explain(code: str | None, language: str = "en") -> Explanation:
    reason = reason_of(code)
    retryable, contact, english, korean = _TEXT[reason]
    return Explanation(reason, retryable, contact, korean if language == "ko" else english)


def preferred_language(accept_language: str | None) -> str:
    """The first of our languages named in an Accept-Language header (English otherwise)."""
    ranked: list[tuple[float, str]] = []
    for index, part in enumerate((accept_language or "").split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        if quality > 0:  # q=0 means "not this one"
            ranked.append((-quality + index * 1e-6, tag.split("-")[0].lower()))
    for _, language in sorted(ranked):
        if language in LANGUAGES:
            return language
    return "en"
