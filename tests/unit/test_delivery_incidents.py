"""Delivery incidents in the domain: owner, options and deadline per problem; what resolves
one, what is refused, and when it escalates."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from domain.delivery_incidents import (
    DEFAULT_DEADLINES,
    OPTIONS,
    CustomerOption,
    DeliveryIncident,
    IncidentStatus,
    Owner,
    Resolution,
    check_delivery_date,
    parcel_value,
)
from domain.errors import DomainError, InvalidTransition
from domain.money import Money
from domain.orders import Order, OrderLine, ShippingAddress
from domain.shipments import DeliveryProblem, Shipment

P, Ask = DeliveryProblem, CustomerOption
T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def incident(problem: DeliveryProblem = P.FAILED_ATTEMPT) -> DeliveryIncident:
    return DeliveryIncident.open("inc_1", order_id="ord_1", shipment_id="shp_1",
                                 seller_id="seller-a", problem=problem,
                                 reason="no one at home", now=T0)


@pytest.mark.parametrize(("problem", "owner", "status"), [
    (P.FAILED_ATTEMPT, Owner.CUSTOMER, IncidentStatus.AWAITING_CUSTOMER),
    (P.ADDRESS_PROBLEM, Owner.CUSTOMER, IncidentStatus.AWAITING_CUSTOMER),
    (P.DAMAGED, Owner.SELLER, IncidentStatus.AWAITING_SELLER),
    (P.LOST, Owner.SELLER, IncidentStatus.AWAITING_SELLER),
    (P.RETURNED_TO_SENDER, Owner.SELLER, IncidentStatus.AWAITING_SELLER),
    (P.CUSTOMS_HOLD, Owner.OPERATORS, IncidentStatus.OPEN),
    (P.OTHER, Owner.OPERATORS, IncidentStatus.OPEN),
])
def test_the_problem_names_who_must_act(problem: DeliveryProblem, owner: Owner,
                                        status: IncidentStatus) -> None:
    opened = incident(problem)
    assert (opened.owner, opened.status) == (owner, status)
    assert opened.options == OPTIONS[problem]
    assert opened.steps == [{"step": "opened", "at": T0.isoformat()}]


def test_every_problem_has_options_and_a_deadline() -> None:
    for problem in DeliveryProblem:
        assert OPTIONS[problem] and Ask.REFUND in OPTIONS[problem]
        assert DEFAULT_DEADLINES[problem] > timedelta(0)
    # A parcel that is gone cannot come another day; customs decide for themselves.
    assert Ask.RESCHEDULE not in OPTIONS[P.LOST] + OPTIONS[P.DAMAGED] + OPTIONS[P.CUSTOMS_HOLD]
    assert OPTIONS[P.CUSTOMS_HOLD] == (Ask.REFUND,)


def test_a_corrected_address_keeps_it_open_and_a_reshipment_resolves_it() -> None:
    case = incident(P.ADDRESS_PROBLEM)
    case.correct_address(T0 + timedelta(hours=1))
    assert case.status == IncidentStatus.AWAITING_CUSTOMER and case.address_corrected
    assert case.updated_at == T0 + timedelta(hours=1)
    case.resolve(Ask.RESHIPMENT, T0 + timedelta(hours=2), shipment_id="shp_2")
    assert (case.status, case.resolution) == (IncidentStatus.RESOLVED, Resolution.RESHIPPED)
    assert case.resolved_at == T0 + timedelta(hours=2)
    assert case.steps[-1] == {"step": "reshipment", "at": (T0 + timedelta(hours=2)).isoformat(),
                              "shipment_id": "shp_2"}
    assert case.options == ()


@pytest.mark.parametrize(("option", "resolution"), [
    (Ask.RESCHEDULE, Resolution.RESCHEDULED), (Ask.RESHIPMENT, Resolution.RESHIPPED),
    (Ask.REFUND, Resolution.REFUNDED)])
def test_a_delivery_choice_or_a_refund_resolves_it(option: CustomerOption,
                                                   resolution: Resolution) -> None:
    case = incident()
    case.resolve(option, T0)
    assert (case.status, case.resolution) == (IncidentStatus.RESOLVED, resolution)


def test_an_option_the_problem_does_not_offer_is_refused_and_changes_nothing() -> None:
    case = incident(P.LOST)
    with pytest.raises(DomainError, match="lost does not offer reschedule; choose one of: "
                                          "reshipment, refund"):
        case.resolve(Ask.RESCHEDULE, T0)
    with pytest.raises(DomainError, match="does not offer correct_address"):
        case.correct_address(T0)
    assert case.status == IncidentStatus.AWAITING_SELLER and len(case.steps) == 1


def test_a_resolved_incident_takes_no_other_choice() -> None:
    case = incident()
    case.resolve(Ask.REFUND, T0)
    for act in (lambda: case.resolve(Ask.RESHIPMENT, T0), lambda: case.correct_address(T0),
                lambda: case.escalate(T0)):
        with pytest.raises(InvalidTransition, match="resolved"):
            act()
    assert case.resolution == Resolution.REFUNDED


def test_correcting_the_address_alone_does_not_resolve() -> None:
    with pytest.raises(DomainError, match="does not resolve"):
        incident().resolve(Ask.CORRECT_ADDRESS, T0)


def test_left_alone_past_its_deadline_it_escalates_once() -> None:
    deadlines = {**DEFAULT_DEADLINES, P.FAILED_ATTEMPT: timedelta(hours=24)}
    case = incident()
    assert case.deadline(deadlines) == T0 + timedelta(hours=24)
    assert case.deadline(DEFAULT_DEADLINES) == T0 + timedelta(hours=48)
    assert not case.is_overdue(T0 + timedelta(hours=23, minutes=59), deadlines)
    assert case.is_overdue(T0 + timedelta(hours=24), deadlines)
    case.escalate(T0 + timedelta(hours=48))
    assert case.status == IncidentStatus.ESCALATED
    assert not case.is_overdue(T0 + timedelta(hours=100), deadlines)
    case.escalate(T0 + timedelta(hours=49))
    assert [s["step"] for s in case.steps] == ["opened", "escalated"]
    # The customer can still settle an escalated incident.
    case.resolve(Ask.RESHIPMENT, T0 + timedelta(hours=50))
    assert case.status == IncidentStatus.RESOLVED


def test_a_customer_who_acts_restarts_the_deadline() -> None:
    case = incident(P.ADDRESS_PROBLEM)
    case.correct_address(T0 + timedelta(hours=40))
    assert not case.is_overdue(T0 + timedelta(hours=50), DEFAULT_DEADLINES)
    assert case.is_overdue(T0 + timedelta(hours=88), DEFAULT_DEADLINES)


def test_a_resolved_incident_is_never_overdue() -> None:
    case = incident()
    case.resolve(Ask.REFUND, T0)
    assert not case.is_overdue(T0 + timedelta(days=30), DEFAULT_DEADLINES)


@pytest.mark.parametrize(("wanted", "error"), [
    (date(2026, 12, 1), "after today"), (date(2026, 11, 30), "after today"),
    (date(2026, 12, 16), "within 14 days")])
def test_a_delivery_date_is_after_today_and_within_two_weeks(wanted: date, error: str) -> None:
    with pytest.raises(DomainError, match=error):
        check_delivery_date(wanted, date(2026, 12, 1))
    check_delivery_date(date(2026, 12, 2), date(2026, 12, 1))
    check_delivery_date(date(2026, 12, 15), date(2026, 12, 1))


def _order() -> Order:
    address = ShippingAddress("Ada", "1 Sejong-daero", "", "Seoul", "04524", "KR")
    return Order.place(
        order_id="ord_1", customer_id="cus_1", currency="KRW", carrier="sandbox-express",
        lines=[OrderLine("TEA", "Tea", "seller-a", 2, Money(15000, "KRW")),
               OrderLine("CUP", "Cup", "seller-a", 1, Money(9000, "KRW")),
               OrderLine("BOWL", "Bowl", "seller-b", 1, Money(7000, "KRW"))],
        shipping_address=address, note="", now=T0)


def test_the_parcel_value_is_what_its_goods_cost() -> None:
    order = _order()
    whole = Shipment("shp_1", "ord_1", "seller-a", "sandbox-express")
    assert parcel_value(order, whole) == Money(39000, "KRW")
    part = Shipment("shp_2", "ord_1", "seller-a", "sandbox-express", lines={"TEA": 1})
    assert parcel_value(order, part) == Money(15000, "KRW")


def test_the_order_takes_a_corrected_address_in_its_country_only() -> None:
    order = _order()
    order.correct_shipping_address(
        ShippingAddress("Ada", "2 Jong-ro", "", "Seoul", "03154", "KR"))
    assert order.shipping_address.postal_code == "03154"
    with pytest.raises(DomainError, match="stay in KR"):
        order.correct_shipping_address(
            ShippingAddress("Ada", "1 Main St", "", "Austin", "73301", "US"))
    order.cancel()
    with pytest.raises(InvalidTransition, match="can no longer change"):
        order.correct_shipping_address(
            ShippingAddress("Ada", "3 Jong-ro", "", "Seoul", "03154", "KR"))


def test_a_parcel_delivered_after_all_resolves_it_once() -> None:
    case = incident()
    assert case.parcel_delivered(T0 + timedelta(hours=5))
    assert (case.status, case.resolution) == (IncidentStatus.RESOLVED, Resolution.DELIVERED)
    assert case.resolved_at == T0 + timedelta(hours=5)
    assert not case.parcel_delivered(T0 + timedelta(hours=6))
    assert [s["step"] for s in case.steps] == ["opened", "delivered"]


def test_the_same_problem_of_the_same_parcel_repeats_an_open_incident_only() -> None:
    case = incident(P.FAILED_ATTEMPT)
    assert case.repeats("shp_1", P.FAILED_ATTEMPT)
    assert not case.repeats("shp_1", P.RETURNED_TO_SENDER)
    assert not case.repeats("shp_2", P.FAILED_ATTEMPT)
    case.resolve(Ask.RESCHEDULE, T0)
    assert not case.repeats("shp_1", P.FAILED_ATTEMPT)
