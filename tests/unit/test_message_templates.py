"""Every message template renders in English and Korean on every channel of its type, with
the facts the customer needs: the order, the amount in their locale, the link."""

from __future__ import annotations

import html
import shutil
from pathlib import Path
from typing import Any

import pytest

from adapters.messaging.console import TEMPLATES as SELLER_AND_LEGACY_TEMPLATES
from adapters.messaging.rendering import (
    PARAMS,
    TEMPLATE_DIR,
    JinjaTemplateRenderer,
    UnknownTemplate,
)
from domain.messages import MESSAGE_TYPES, Channel, message_type

BASE = "https://mall.example"
LINK = f"{BASE}/v1/auth/email/verify?token=abc.def&x=1"
ORDER = "ord_7Hq2"
renderer = JinjaTemplateRenderer(BASE)

# What each template is given in the test, on top of the order id.
PARAMS_GIVEN: dict[str, dict[str, Any]] = {
    "verify_email": {"link": LINK},
    "password_reset": {"link": LINK},
    "link_confirmation": {"provider": "kakao", "link": LINK},
    "new_provider_sign_in": {"provider": "google", "at": "2026-12-02T13:05:00+00:00"},
    "order_placed": {"amount_minor": 1999, "currency": "USD"},
    "order_paid": {"amount_minor": 1999, "currency": "USD"},
    "awaiting_deposit": {"amount_minor": 1999, "currency": "USD", "bank": "Shinhan",
                         "account_number": "562-110-123456", "account_holder": "MALL",
                         "deadline": "2026-12-03T14:00:00+00:00"},
    "deposit_received": {"amount_minor": 1999, "currency": "USD"},
    "payment_failed": {"amount_minor": 1999, "currency": "USD", "reason": "expired_card"},
    "payment_refunded": {"amount_minor": 1999, "currency": "USD"},
    "order_held": {}, "order_released": {},
    "order_cancelled": {"reason": "deposit_expired"},
    "shipment_in_transit": {"shipment_id": "shp_1", "carrier": "kr.cjlogistics",
                            "tracking_number": "123456789012",
                            "tracking_url": "https://trace.example/123456789012"},
    "shipment_out_for_delivery": {"shipment_id": "shp_1", "carrier": "kr.cjlogistics"},
    "shipment_update": {"status": "picked_up"},
    "order_delivered": {},
    "delivery_exception": {"incident_id": "inc_9", "shipment_id": "shp_1",
                           "reason": "nobody home", "problem": "failed_attempt",
                           "options": "reschedule, reshipment, refund"},
    "promotion": {"title": "Winter sale", "message": "30% off coats this week",
                  "link": f"{BASE}/sale", "sender_name": "Mall Co.",
                  "unsubscribe_url": f"{BASE}/v1/unsubscribe/tok"},
    "ship_order_seller": {"carrier": "kr.hanjin", "lines": {"sku-1": 2}},
    "delivery_exception_seller": {"incident_id": "inc_9", "shipment_id": "shp_1",
                                  "reason": "nobody home", "problem": "failed_attempt"},
    "reshipment_booked_seller": {"incident_id": "inc_9", "new_shipment_id": "shp_2",
                                 "carrier": "sandbox-express"},
    "reshipment_handover_seller": {"incident_id": "inc_9", "new_shipment_id": "shp_2",
                                   "carrier": "kr.lotte"},
    "delivery_rescheduled_seller": {"incident_id": "inc_9", "delivery_date": "2026-12-09"},
    "delivery_refunded_seller": {"incident_id": "inc_9", "shipment_id": "shp_1"},
}
AMOUNT = {"en": "$19.99", "ko": "US$19.99"}
# The facts a message must carry, by template and language, beyond the order id and amount.
FACTS: dict[str, dict[str, list[str]]] = {
    "verify_email": {"en": [LINK], "ko": [LINK]},
    "password_reset": {"en": [LINK, "30"], "ko": [LINK, "30"]},
    "link_confirmation": {"en": ["Kakao", LINK], "ko": ["Kakao", LINK]},
    "new_provider_sign_in": {"en": ["Google"], "ko": ["Google"]},
    "awaiting_deposit": {"en": ["562-110-123456", "December 3, 2026", "2:00\u202fPM UTC"],
                         "ko": ["562-110-123456", "2026년 12월 3일", "오후 11:00 KST"]},
    "payment_failed": {"en": ["This card has expired"], "ko": ["유효기간이 지난 카드"]},
    "order_cancelled": {"en": ["The transfer deadline passed"], "ko": ["입금 기한"]},
    "shipment_in_transit": {"en": ["CJ Logistics", "https://trace.example/123456789012"],
                            "ko": ["CJ대한통운", "https://trace.example/123456789012"]},
    "shipment_out_for_delivery": {"en": ["CJ Logistics"], "ko": ["CJ대한통운"]},
    "shipment_update": {"en": ["picked up"], "ko": ["택배사 인수"]},
    "delivery_exception": {
        "en": ["choose another delivery day", "have it sent again", "get a refund",
               f"{BASE}/v1/orders/{ORDER}/delivery-incidents"],
        "ko": ["배송일 변경", "재발송", "환불", f"{BASE}/v1/orders/{ORDER}/delivery-incidents"]},
    "promotion": {"en": ["30% off coats", f"{BASE}/sale"], "ko": ["30% off coats", f"{BASE}/sale"]},
    "ship_order_seller": {"en": ["Hanjin", "sku-1"], "ko": ["한진택배", "sku-1"]},
    "delivery_exception_seller": {"en": ["inc_9"], "ko": ["inc_9"]},
    "reshipment_booked_seller": {"en": ["shp_2", "sandbox-express"],
                                 "ko": ["shp_2", "sandbox-express"]},
    "reshipment_handover_seller": {"en": ["shp_2", "Lotte"], "ko": ["shp_2", "롯데택배"]},
    "delivery_rescheduled_seller": {"en": ["December 9, 2026"], "ko": ["2026년 12월 9일"]},
    "delivery_refunded_seller": {"en": ["shp_1"], "ko": ["shp_1"]},
}
NO_ORDER = {"verify_email", "password_reset", "link_confirmation", "new_provider_sign_in",
            "promotion"}
ALL = sorted({*MESSAGE_TYPES, *SELLER_AND_LEGACY_TEMPLATES, "shipment_update"})


def _channels(template: str) -> tuple[Channel, ...]:
    return message_type(template).channels


def test_every_message_type_and_seller_notice_has_a_template_in_both_languages() -> None:
    for language in ("en", "ko"):
        files = {p.stem for p in (TEMPLATE_DIR / language).glob("*.txt")}
        missing = {t for t in ALL if not t.startswith("shipment_") or t in MESSAGE_TYPES} - files
        assert not missing, (language, missing)
    assert set(PARAMS_GIVEN) == set(renderer.templates()) == set(PARAMS)


@pytest.mark.parametrize("language", ["en", "ko"])
@pytest.mark.parametrize("template", sorted(PARAMS_GIVEN))
def test_every_template_renders_its_facts_on_every_channel(template: str, language: str) -> None:
    params = {"order_id": ORDER, **PARAMS_GIVEN[template]} if template not in NO_ORDER \
        else PARAMS_GIVEN[template]
    facts = list(FACTS.get(template, {}).get(language, []))
    if template not in NO_ORDER:
        facts.append(ORDER)
    if "amount_minor" in params:
        facts.append(AMOUNT[language])
    for channel in _channels(template):
        message = renderer.render(template, channel.value, language, params)
        if channel is not Channel.SMS:
            assert message.subject and "{" not in message.subject and "\n" not in message.subject
        assert message.text and "{{" not in message.text and "{%" not in message.text
        if channel is Channel.EMAIL:
            for fact in facts:
                assert fact in message.text, (channel, fact, message.text)
                assert html.escape(fact, quote=False) in message.html, (channel, fact)
            assert message.html.startswith("<!DOCTYPE html>")
            assert f'<html lang="{language}">' in message.html
        else:
            # A short message carries the order and the link it is about; details are in mail.
            short_facts = [f for f in facts if f in (ORDER, LINK) or f.startswith("https://")]
            if template in ("awaiting_deposit", "payment_refunded"):
                short_facts.append(AMOUNT[language])
            for fact in short_facts:
                assert fact in message.text, (channel, fact, message.text)


def test_money_follows_the_currency_and_the_locale() -> None:
    won = {"order_id": ORDER, "amount_minor": 19900, "currency": "KRW"}
    assert "₩19,900" in renderer.render("payment_refunded", "email", "ko", won).text
    assert "₩19,900" in renderer.render("payment_refunded", "email", "en", won).text
    dinar = {"order_id": ORDER, "amount_minor": 1500, "currency": "KWD"}  # three decimals
    assert "KWD1.500" in renderer.render("payment_refunded", "sms", "en", dinar).text
    euro = {"order_id": ORDER, "amount_minor": 123456, "currency": "EUR"}
    assert "€1,234.56" in renderer.render("payment_refunded", "sms", "en", euro).text


def test_times_are_shown_in_the_recipients_time_zone() -> None:
    params = {"order_id": ORDER, "deadline": "2026-12-03T14:00:00Z",
              "account_number": "1", "time_zone": "America/New_York"}
    text = renderer.render("awaiting_deposit", "email", "en", params).text
    assert "9:00\u202fAM EST" in text


def test_html_escapes_every_parameter_and_the_text_part_keeps_it_as_written() -> None:
    params = {"order_id": ORDER, "reason": "<script>alert(1)</script> & co",
              "incident_id": "inc_1", "problem": "other"}
    message = renderer.render("delivery_exception", "email", "en", params)
    assert "<script>" not in message.html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; co" in message.html
    assert "<script>alert(1)</script> & co" in message.text


def test_the_link_is_a_clickable_button_and_a_link_in_the_html() -> None:
    message = renderer.render("verify_email", "email", "en", {"link": LINK})
    assert f'<a href="{html.escape(LINK)}"' in message.html
    assert "Confirm my address</a>" in message.html


def test_promotional_footer_names_the_sender_and_how_to_opt_out() -> None:
    params = dict(PARAMS_GIVEN["promotion"])
    ko = renderer.render("promotion", "email", "ko", params)
    assert "보낸 곳: Mall Co." in ko.text and "수신거부" in ko.text
    assert f'href="{BASE}/v1/unsubscribe/tok"' in ko.html
    assert "수신거부" in renderer.render("promotion", "sms", "ko", params).text


def test_a_missing_parameter_is_named_and_an_unknown_template_refused() -> None:
    with pytest.raises(ValueError, match="needs amount_minor, currency"):
        renderer.render("payment_refunded", "email", "en", {"order_id": ORDER})
    with pytest.raises(UnknownTemplate):
        renderer.render("no_such_message", "email", "en", {})


def test_params_as_the_application_sends_them_today_render() -> None:
    today = {  # application/handlers/policies.py, application/accounts.py
        "order_paid": {"order_id": ORDER},
        "payment_failed": {"order_id": ORDER, "reason": "declined"},
        "awaiting_deposit": {"order_id": ORDER},
        "shipment_picked_up": {"order_id": ORDER, "shipment_id": "shp_1"},
        "shipment_in_transit": {"order_id": ORDER, "shipment_id": "shp_1"},
        "delivery_exception": {"incident_id": "inc_1", "options": "correct_address, refund",
                               "order_id": ORDER, "shipment_id": "shp_1", "reason": "x",
                               "problem": "address_problem"},
        "order_delivered": {"order_id": ORDER},
        "order_cancelled": {"order_id": ORDER, "reason": "rejected_in_review"},
    }
    for template, params in today.items():
        for language in ("en", "ko"):
            assert ORDER in renderer.render(template, "email", language, params).text
    # Unknown languages fall back to English.
    french = renderer.render("order_paid", "email", "fr", today["order_paid"])
    assert french.subject.startswith("Payment confirmed")


def test_the_version_changes_with_the_templates_text(tmp_path: Path) -> None:
    copy = tmp_path / "templates"
    shutil.copytree(TEMPLATE_DIR, copy)
    before = JinjaTemplateRenderer(BASE, copy)
    first, other = before.version("order_paid"), before.version("order_held")
    assert first != other and len(first) == 12
    (copy / "ko" / "order_paid.txt").write_text(
        (copy / "ko" / "order_paid.txt").read_text() + "\n", encoding="utf-8")
    after = JinjaTemplateRenderer(BASE, copy)
    assert after.version("order_paid") != first and after.version("order_held") == other
    assert renderer.version("shipment_picked_up") == renderer.version("shipment_update")
