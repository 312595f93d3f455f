"""The HTTP edge alone turns kinds of error into statuses; the core's errors carry none."""

from __future__ import annotations

import pytest

import domain.errors as errors
from application.idempotency import KeyReused, RequestInFlight
from application.payments.checkout import IdentityVerificationRequired, MethodCannotAwaitReview
from domain.identity import FlowRefused, LastWayIn, RefreshReused
from domain.payments import RefundTooLarge
from domain.routing import UnsupportedRoute
from entrypoints.http.api import BadRequest, CardNumberRefused, InvalidBody, UnsupportedMediaType
from entrypoints.http.problems import http_status, problem_body


def _subclasses(kind: type[errors.DomainError]) -> set[type[errors.DomainError]]:
    found = set(kind.__subclasses__())
    for sub in list(found):
        found |= _subclasses(sub)
    return found


def test_no_error_of_the_core_knows_http() -> None:
    core = {k for k in _subclasses(errors.DomainError) | {errors.DomainError}
            if k.__module__.startswith(("domain.", "application."))}
    assert {RefundTooLarge, KeyReused, IdentityVerificationRequired} <= core
    assert [k.__name__ for k in core if "status" in vars(k)] == []


# Every kind of error by the status it answers with.
BY_STATUS: dict[int, list[errors.DomainError]] = {
    400: [errors.InvalidSignature("x"), BadRequest("x")],
    401: [errors.Unauthorized("x"), errors.SignInRefused("x", reason="state_mismatch"),
          FlowRefused("x", reason="flow_expired"), RefreshReused("x")],
    403: [errors.Forbidden("x")],
    404: [errors.NotFound("x")],
    409: [errors.Conflict("x"), errors.AlreadyExists("x"), errors.InvalidTransition("x"),
          LastWayIn("x"), RequestInFlight("x")],
    415: [UnsupportedMediaType("x")],
    422: [errors.DomainError("x"), RefundTooLarge("x"), UnsupportedRoute("x"), KeyReused("x"),
          IdentityVerificationRequired("x"), MethodCannotAwaitReview("x"), InvalidBody("x"),
          CardNumberRefused("x")],
    429: [errors.TooManyAttempts("x", retry_after=3)],
    503: [errors.ProviderUnavailable("x")],
}


@pytest.mark.parametrize(("error", "status"), [
    pytest.param(error, status, id=f"{type(error).__name__}-{status}")
    for status, kinds in BY_STATUS.items() for error in kinds])
def test_each_kind_of_error_answers_with_its_status(error: errors.DomainError,
                                                     status: int) -> None:
    assert http_status(error) == status
    assert problem_body(error)["status"] == status
