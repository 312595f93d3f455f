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


@pytest.mark.parametrize(("error", "status"), [
    (errors.DomainError("x"), 422),
    (errors.NotFound("x"), 404),
    (errors.Conflict("x"), 409),
    (errors.AlreadyExists("x"), 409),
    (errors.InvalidTransition("x"), 409),
    (errors.Unauthorized("x"), 401),
    (errors.SignInRefused("x", reason="state_mismatch"), 401),
    (errors.Forbidden("x"), 403),
    (errors.InvalidSignature("x"), 400),
    (errors.ProviderUnavailable("x"), 503),
    (errors.TooManyAttempts("x", retry_after=3), 429),
    (FlowRefused("x", reason="flow_expired"), 401),
    (LastWayIn("x"), 409),
    (RefreshReused("x"), 401),
    (RefundTooLarge("x"), 422),
    (UnsupportedRoute("x"), 422),
    (KeyReused("x"), 422),
    (RequestInFlight("x"), 409),
    (IdentityVerificationRequired("x"), 422),
    (MethodCannotAwaitReview("x"), 422),
    (BadRequest("x"), 400),
    (InvalidBody("x"), 422),
    (UnsupportedMediaType("x"), 415),
    (CardNumberRefused("x"), 422),
])
def test_each_kind_of_error_answers_with_its_status(error: errors.DomainError,
                                                     status: int) -> None:
    assert http_status(error) == status
    assert problem_body(error)["status"] == status
