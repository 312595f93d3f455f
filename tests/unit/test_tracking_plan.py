"""The tracking plan: what the storefront may send, typed; what the server's own events keep."""

from __future__ import annotations

import pytest

from domain.tracking_plan import FUNNEL, PLAN, OffPlan, Source, check, conform


def test_a_storefront_milestone_with_its_typed_properties_is_allowed() -> None:
    milestone = check("Checkout Started", {"item_count": 2, "value_minor": 39000,
                                           "currency": "KRW"}, Source.STOREFRONT)
    assert milestone.name == "Checkout Started"
    check("Support Contacted", {"channel": "chat", "topic": "delivery"}, Source.STOREFRONT)


def test_an_unknown_event_is_refused_with_the_events_allowed() -> None:
    with pytest.raises(OffPlan) as refused:
        check("Page Scrolled", {}, Source.STOREFRONT)
    assert "Checkout Started" in refused.value.allowed["events"]
    assert "Order Placed" not in refused.value.allowed["events"]  # the server's own


def test_the_server_s_events_cannot_be_sent_by_the_storefront() -> None:
    with pytest.raises(OffPlan, match="not an event the storefront may send"):
        check("Order Placed", {}, Source.STOREFRONT)


@pytest.mark.parametrize(("properties", "problem"), [
    ({"coupon": "SUMMER", "colour": "red"}, "'colour' is not a property"),
    ({"coupon": "SUMMER", "discount_minor": "5"}, "'discount_minor' must be integer"),
    ({"coupon": "SUMMER", "discount_minor": True}, "'discount_minor' must be integer"),
    ({"coupon": "Ada Lovelace"}, "'coupon' must be code"),
    ({}, "'coupon' must be code (required)"),
    ({"coupon": "SUMMER", "currency": "won"}, "'currency' must be currency"),
])
def test_wrong_properties_are_refused_with_the_properties_allowed(
        properties: dict[str, object], problem: str) -> None:
    with pytest.raises(OffPlan, match=problem.replace("(", r"\(").replace(")", r"\)")) as refused:
        check("Coupon Applied", properties, Source.STOREFRONT)
    assert refused.value.allowed["properties"]["coupon"] == "code (required)"


def test_a_choice_lists_its_values() -> None:
    with pytest.raises(OffPlan, match="one of chat, email, phone, form"):
        check("Support Contacted", {"channel": "pigeon"}, Source.STOREFRONT)


def test_the_server_s_events_keep_what_the_plan_names() -> None:
    milestone, kept, dropped = conform("Order Placed", {
        "order_ref": "ord_1", "total_minor": 39000, "currency": "KRW", "note": "ring twice"})
    assert milestone is not None
    assert kept == {"order_ref": "ord_1", "total_minor": 39000, "currency": "KRW"}
    assert dropped == ["note"]
    assert conform("Made Up", {"a": 1}) == (None, {}, ["a"])


def test_every_funnel_step_is_in_the_plan() -> None:
    assert all(step in PLAN for step in FUNNEL)
