"""Every message the mall sends, in English and Korean, for each channel: Jinja2 templates in
adapters/messaging/templates/<language>/<template>.txt.

A template file defines blocks: `subject` (an email's subject and, unless `title` is given,
a push notification's title), `short` (the SMS and the push body: one or two sentences,
with the link when the message is about one), `body` (the email's text, paragraphs parted
by a blank line) and optionally `action` (the label of the email's button for `link`).
The HTML part is the body inside templates/layout.html, rendered with autoescaping: every
parameter is escaped there and URLs become links, so one text serves both parts.

Parameters are what the application passes with the command (see PARAMS); amounts come as
`amount_minor` + `currency` and are shown per locale with Babel, times as ISO 8601 strings
shown in the recipient's `time_zone` (a parameter; Asia/Seoul for Korean, else UTC).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel.dates import format_date, format_time
from babel.numbers import format_currency
from jinja2 import Environment, FileSystemLoader, StrictUndefined, Template, TemplateNotFound

from application.ports import RenderedMessage
from domain.carriers import KOREAN_CARRIERS
from domain.failures import explain
from domain.money import currency_exponent

TEMPLATE_DIR = Path(__file__).with_name("templates")
LANGUAGES = ("en", "ko")
SHIPMENT_UPDATE = "shipment_update"  # any shipment_<status> without a template of its own

# What each template needs (required) beyond what it shows when given (see the files).
PARAMS: dict[str, tuple[str, ...]] = {
    "verify_email": ("link",),
    "password_reset": ("link",),
    "link_confirmation": ("provider",),
    "new_provider_sign_in": ("provider",),
    "order_placed": ("order_id",),
    "order_paid": ("order_id",),
    "awaiting_deposit": ("order_id",),
    "deposit_received": ("order_id",),
    "payment_failed": ("order_id",),
    "payment_refunded": ("order_id", "amount_minor", "currency"),
    "order_held": ("order_id",),
    "order_released": ("order_id",),
    "order_cancelled": ("order_id",),
    "shipment_in_transit": ("order_id",),
    "shipment_out_for_delivery": ("order_id",),
    SHIPMENT_UPDATE: ("order_id", "status"),
    "order_delivered": ("order_id",),
    "delivery_exception": ("order_id", "incident_id"),
    "promotion": ("title", "message"),
    "ship_order_seller": ("order_id", "carrier", "lines"),
    "delivery_exception_seller": ("order_id", "incident_id"),
    "reshipment_booked_seller": ("order_id", "incident_id", "new_shipment_id", "carrier"),
    "reshipment_handover_seller": ("order_id", "incident_id", "new_shipment_id", "carrier"),
    "delivery_rescheduled_seller": ("order_id", "incident_id", "delivery_date"),
    "delivery_refunded_seller": ("order_id", "incident_id", "shipment_id"),
}

_WORDS: dict[str, dict[str, str]] = {  # the values of enumerations, as customers read them
    "en": {
        "correct_address": "correct the address", "reschedule": "choose another delivery day",
        "reshipment": "have it sent again", "refund": "get a refund",
        "failed_attempt": "nobody could take the parcel", "address_problem":
        "the address could not be found", "customs_hold": "the parcel is held at customs",
        "damaged": "the parcel was damaged", "lost": "the parcel was lost",
        "returned_to_sender": "the parcel is on its way back to the seller",
        "other": "the carrier reported a problem", "requested": "booked",
        "created": "booked", "picked_up": "picked up by the carrier",
        "in_transit": "on its way", "out_for_delivery": "out for delivery",
        "exception": "delayed by a problem", "delivered": "delivered",
        "returned": "returned to the seller",
    },
    "ko": {
        "correct_address": "주소 수정", "reschedule": "배송일 변경", "reshipment": "재발송",
        "refund": "환불", "failed_attempt": "수령인 부재로 배송하지 못했습니다",
        "address_problem": "주소를 찾을 수 없습니다", "customs_hold": "통관 보류 중입니다",
        "damaged": "상품이 파손되었습니다", "lost": "상품이 분실되었습니다",
        "returned_to_sender": "상품이 판매자에게 반송 중입니다",
        "other": "택배사에서 문제를 알려 왔습니다", "requested": "접수됨", "created": "접수됨",
        "picked_up": "택배사 인수 완료", "in_transit": "배송 중", "out_for_delivery": "배송 출발",
        "exception": "배송 문제 발생", "delivered": "배송 완료", "returned": "판매자에게 반송됨",
    },
}


class UnknownTemplate(LookupError):
    """No template of this name: a message type or a seller notice nobody wrote yet."""


def _zone(name: str, language: str) -> ZoneInfo:
    try:
        return ZoneInfo(name or ("Asia/Seoul" if language == "ko" else "UTC"))
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def _moment(value: Any) -> datetime:
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return moment if moment.tzinfo else moment.replace(tzinfo=ZoneInfo("UTC"))


class JinjaTemplateRenderer:
    """The TemplateRenderer port over the files in TEMPLATE_DIR."""

    def __init__(self, base_url: str = "", directory: Path = TEMPLATE_DIR) -> None:
        self._base = base_url.rstrip("/")
        self._directory = directory
        loader = FileSystemLoader(str(directory))
        common: dict[str, Any] = {"loader": loader, "undefined": StrictUndefined,
                                  "lstrip_blocks": True}
        self._text = Environment(autoescape=False, **common)  # noqa: S701 - never HTML
        self._html = Environment(autoescape=True, **common)
        self._versions: dict[str, str] = {}

    def templates(self) -> list[str]:
        """Every template name there is a file for (in English; Korean has the same)."""
        return sorted(p.stem for p in (self._directory / "en").glob("*.txt"))

    def render(self, template: str, channel: str, language: str,
               params: Mapping[str, Any]) -> RenderedMessage:
        language = language if language in LANGUAGES else "en"
        name, source = self._source(template, language)
        context = self._context(name, template, language, params)
        fresh = source.new_context(context)

        def block(part: str) -> str:
            if part not in source.blocks:
                return ""
            return "".join(source.blocks[part](fresh)).strip()

        subject, short, body = block("subject"), block("short"), block("body")
        if channel == "sms":
            return RenderedMessage(subject="", text=short)
        if channel == "push":
            return RenderedMessage(subject=block("title") or subject, text=short)
        # Paragraphs part at blank lines; a tag alone on its line may leave one more.
        paragraphs = ["\n".join(line.strip() for line in part.splitlines() if line.strip())
                      for part in re.split(r"\n\s*\n", body)]
        paragraphs = [p for p in paragraphs if p]
        html = self._html.get_template("layout.html").render(
            lang=language, subject=subject, paragraphs=paragraphs,
            action=block("action"),
            link=context.get("link") or context.get("order_url", ""),
            footer=[line for line in (block("footer") or "").splitlines() if line.strip()])
        text = "\n\n".join(paragraphs)
        footer = block("footer")
        return RenderedMessage(subject=subject, text=f"{text}\n\n{footer}" if footer else text,
                               html=html)

    def version(self, template: str) -> str:
        """The first 12 hex digits of a SHA-256 over the template's files in every language
        and the layout: it changes exactly when what the customer reads may change."""
        if template not in self._versions:
            name = template if (self._directory / "en" / f"{template}.txt").exists() \
                else SHIPMENT_UPDATE if template.startswith("shipment_") else template
            digest = hashlib.sha256()
            for path in [*(self._directory / lang / f"{name}.txt" for lang in LANGUAGES),
                         self._directory / "layout.html"]:
                digest.update(path.name.encode() + b"\0")
                digest.update(path.read_bytes() if path.exists() else b"")
            self._versions[template] = digest.hexdigest()[:12]
        return self._versions[template]

    def _source(self, template: str, language: str) -> tuple[str, Template]:
        for name in (template, SHIPMENT_UPDATE if template.startswith("shipment_") else ""):
            if not name:
                continue
            try:
                return name, self._text.get_template(f"{language}/{name}.txt")
            except TemplateNotFound:
                continue
        raise UnknownTemplate(f"no message template {template!r}")

    def _context(self, name: str, template: str, language: str,
                 params: Mapping[str, Any]) -> dict[str, Any]:
        if name == SHIPMENT_UPDATE and not params.get("status"):
            params = {**params, "status": template.removeprefix("shipment_")}
        missing = [p for p in PARAMS.get(name, ()) if params.get(p) in (None, "")]
        if missing:
            raise ValueError(f"message {template!r} needs {', '.join(missing)}")
        zone = _zone(str(params.get("time_zone", "")), language)
        words = _WORDS[language]

        def money(amount_minor: Any, currency: Any) -> str:
            code = str(currency).upper()
            amount = Decimal(int(amount_minor)).scaleb(-currency_exponent(code))
            return format_currency(amount, code, locale=language)

        def when(value: Any) -> str:
            moment = _moment(value).astimezone(zone)
            return " ".join((format_date(moment, "long", locale=language),
                             # CLDR's short Korean time says "PM"; people write 오후.
                             format_time(moment, "aaaa h:mm" if language == "ko" else "short",
                                         locale=language),
                             moment.tzname() or ""))

        def day(value: Any) -> str:
            found = value if isinstance(value, date) else date.fromisoformat(str(value)[:10])
            return format_date(found, "long", locale=language)

        def word(value: Any) -> str:
            return words.get(str(value), str(value).replace("_", " "))

        def carrier(value: Any) -> str:
            known = KOREAN_CARRIERS.get(str(value))
            if known is None:
                return str(value)
            return known.name_ko if language == "ko" else known.name_en

        def listed(value: Any) -> list[str]:
            items: Iterable[Any] = (value.split(",") if isinstance(value, str) else value)
            return [word(str(item).strip()) for item in items if str(item).strip()]

        context: dict[str, Any] = {**params, "language": language, "template": template,
                                   "money": money, "when": when, "day": day, "word": word,
                                   "carrier_name": carrier, "listed": listed}
        if "amount_minor" in params and "currency" in params:
            context["amount"] = money(params["amount_minor"], params["currency"])
        if params.get("reason") and name in ("payment_failed", "order_cancelled"):
            context["explanation"] = explain(str(params["reason"]), language).message
        order_id = params.get("order_id")
        if self._base and order_id:
            context.setdefault("order_url", f"{self._base}/v1/orders/{order_id}")
        return context
