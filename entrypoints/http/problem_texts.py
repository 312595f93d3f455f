"""Titles of our problem types, and what each means, in the storefront's languages.

`detail` says precisely what went wrong, in English (field names, limits); a Korean reader
gets the Korean explanation of the problem type as `detail` and the precise English text as
`detail_en`, so nothing is lost in translation.
"""

from __future__ import annotations

# code: (English title, Korean title, Korean explanation)
TEXTS: dict[str, tuple[str, str, str]] = {
    "rule-violated": (
        "Request refused by a business rule", "요청이 거절되었습니다",
        "주문 또는 결제 규칙에 맞지 않는 요청입니다. 내용을 확인한 뒤 다시 보내 주세요."),
    "no-shipping-option": (
        "No delivery there with this carrier", "이 배송 방법으로는 배송할 수 없습니다",
        "선택한 택배사나 서비스는 이 주소로 배송하지 않습니다. options에 있는 배송 방법 중에서 "
        "골라 주세요."),
    "not-found": (
        "Not found", "찾을 수 없습니다",
        "요청한 항목이 없거나 이 계정으로 볼 수 없습니다. 주소와 번호를 확인해 주세요."),
    "conflict": (
        "Conflict with the current state", "현재 상태와 맞지 않습니다",
        "다른 요청이 먼저 처리되었습니다. 잠시 뒤 최신 상태를 확인하고 다시 시도해 주세요."),
    "already-exists": (
        "Already exists", "이미 있습니다",
        "같은 정보로 만든 항목이 이미 있습니다. 기존 계정으로 로그인하거나 다른 값을 사용해 "
        "주세요."),
    "invalid-transition": (
        "Not possible in the current state", "현재 상태에서는 할 수 없습니다",
        "주문 또는 결제의 현재 상태에서는 이 작업을 할 수 없습니다."),
    "email-in-use": (
        "Email address in use", "이미 사용 중인 이메일입니다",
        "이 이메일 주소를 쓰는 계정이 이미 있습니다. 그 계정으로 로그인한 뒤 연결해 주세요."),
    "link-pending": (
        "Link awaiting the account owner", "계정 주인의 확인을 기다립니다",
        "이 계정에 연결하려면 계정 주인이 로그인한 뒤 연결을 확인해야 합니다."),
    "unauthorized": (
        "Not signed in", "로그인이 필요합니다",
        "로그인하지 않았거나 로그인이 만료되었습니다. 다시 로그인해 주세요."),
    "forbidden": (
        "Not allowed", "권한이 없습니다", "이 작업을 할 권한이 없습니다."),
    "invalid-signature": (
        "Signature not valid", "서명이 올바르지 않습니다",
        "요청의 서명을 확인할 수 없습니다. 보낸 쪽의 비밀 키 설정을 확인해 주세요."),
    "provider-unavailable": (
        "Partner unavailable", "연동 업체를 이용할 수 없습니다",
        "연동 업체가 응답하지 않습니다. 중복 처리는 없었습니다. 잠시 뒤 다시 시도하거나 다른 "
        "방법을 선택해 주세요."),
    "sign-in-refused": (
        "Sign-in refused", "로그인이 거절되었습니다",
        "로그인을 완료할 수 없습니다. 처음부터 다시 시도하거나 다른 로그인 방법을 이용해 "
        "주세요."),
    "unsupported-payment-route": (
        "Payment method not offered", "지원하지 않는 결제 방식입니다",
        "이 국가와 통화에는 선택한 결제 수단을 쓸 수 없습니다. 다른 결제 수단을 선택해 주세요."),
    "refund-exceeds-captured": (
        "Refund larger than the payment", "환불 금액이 결제 금액보다 큽니다",
        "환불 가능한 금액을 넘었습니다. 금액을 줄여 다시 요청해 주세요."),
    "last-sign-in-method": (
        "Last way to sign in", "마지막 로그인 방법입니다",
        "계정에 들어갈 다른 방법이 없어 연결을 해제할 수 없습니다. 먼저 다른 방법을 추가해 "
        "주세요."),
    "refresh-token-reused": (
        "Refresh token already used", "이미 사용된 갱신 토큰입니다",
        "안전을 위해 이 로그인의 모든 세션을 종료했습니다. 다시 로그인해 주세요."),
    "idempotency-key-reused": (
        "Idempotency key reused", "멱등 키가 다른 요청에 사용되었습니다",
        "이 Idempotency-Key는 다른 요청에 이미 쓰였습니다. 새 요청에는 새 키를 보내 주세요."),
    "request-in-flight": (
        "Same request still running", "같은 요청을 처리하고 있습니다",
        "같은 키의 요청이 아직 처리 중입니다. 잠시 뒤 같은 키로 다시 보내면 결과를 받습니다."),
    "identity-verification-required": (
        "Identity verification required", "본인 인증이 필요합니다",
        "이 금액의 주문에는 본인 인증이 필요합니다. 본인 인증 후 다시 결제해 주세요."),
    "method-cannot-await-review": (
        "Payment method cannot wait for the order check",
        "이 결제 수단은 주문 확인을 기다릴 수 없습니다",
        "이 주문은 발송 전에 확인이 필요한데, 계좌 이체는 확인을 기다릴 수 없습니다. 카드로 결제해 "
        "주세요. 확인이 끝날 때까지 금액은 승인만 되고 청구되지 않습니다. 결제된 금액은 없습니다."),
    "bad-request": (
        "Malformed request", "잘못된 요청입니다",
        "요청 형식이 올바르지 않습니다. 보낸 내용을 확인해 주세요."),
    "invalid-body": (
        "Invalid request body", "요청 내용이 올바르지 않습니다",
        "요청 본문의 값이 규칙에 맞지 않습니다. detail_en에 적힌 항목을 고쳐 주세요."),
    "unsupported-media-type": (
        "Unsupported media type", "지원하지 않는 형식입니다",
        "본문은 UTF-8 JSON으로 보내고 'Content-Type: application/json'을 붙여 주세요."),
    "card-number-refused": (
        "Card number refused", "카드 번호는 입력할 수 없습니다",
        "카드 번호로 보이는 값이 있어 저장하지 않았습니다. 카드 번호는 절대 입력하지 말고 "
        "결제 화면을 이용해 주세요."),
    "too-many-requests": (
        "Too many attempts", "시도 횟수가 너무 많습니다",
        "잠시 뒤 Retry-After에 적힌 시간이 지난 다음 다시 시도해 주세요."),
    "method-not-allowed": (
        "Method not allowed", "허용되지 않는 메서드입니다",
        "이 주소는 Allow 헤더에 적힌 메서드만 받습니다."),
    "payload-too-large": (
        "Request body too large", "요청 본문이 너무 큽니다",
        "요청 본문은 1 MiB 이하로 보내 주세요."),
    "uri-too-long": (
        "Address too long", "주소가 너무 깁니다", "주소와 쿼리는 8 KiB 이하로 보내 주세요."),
    "request-header-fields-too-large": (
        "Header too large", "헤더가 너무 큽니다", "각 헤더 값은 8 KiB 이하로 보내 주세요."),
    "internal-error": (
        "Internal error", "내부 오류", "서버에서 문제가 생겼습니다. 중복 처리는 없었으니 다시 "
        "시도해도 안전합니다. 계속되면 instance 값을 알려 고객센터에 문의해 주세요."),
}


def title(code: str, language: str = "en") -> str:
    """The problem type's title; codes without an entry read as a sentence of their words."""
    entry = TEXTS.get(code)
    if entry is None:
        return code.replace("-", " ").capitalize()
    return entry[1] if language == "ko" else entry[0]


def korean_detail(code: str) -> str | None:
    entry = TEXTS.get(code)
    return entry[2] if entry else None
