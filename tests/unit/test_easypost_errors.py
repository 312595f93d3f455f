"""EasyPost's answers mapped to our failure taxonomy: refusals are DomainErrors that say why,
"not now" and unusable answers are ProviderUnavailable, a bad key was never acted on."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from adapters.http import HttpResponse
from adapters.shipping.easypost import read_answer
from domain.errors import DomainError, NotFound, ProviderUnavailable

RECORDED_ERROR = yaml.safe_load(
    (Path(__file__).parent.parent / "cassettes" / "easypost" / "test_error.yaml").read_text()
)["interactions"][0]["response"]


def answer(status: int, body: Any) -> HttpResponse:
    return HttpResponse(status, {}, body if isinstance(body, bytes) else json.dumps(body).encode())


def error(code: str, message: str, *errors: dict[str, str]) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "errors": list(errors)}}


def test_the_recorded_refusal_names_the_field() -> None:
    recorded = answer(RECORDED_ERROR["status"]["code"],
                      RECORDED_ERROR["body"]["string"].encode())
    with pytest.raises(DomainError) as refused:
        read_answer(recorded, "create the shipment")
    assert type(refused.value) is DomainError and not refused.value.retryable
    assert "[PARAMETER.REQUIRED]" in refused.value.detail
    assert "(shipment: cannot be blank)" in refused.value.detail


def test_a_refusal_without_field_errors_says_easyposts_message() -> None:
    with pytest.raises(DomainError, match=r"refused to buy a label: Rate is not available "
                                          r"\[SHIPMENT.RATE.UNAVAILABLE\]$"):
        read_answer(answer(422, error("SHIPMENT.RATE.UNAVAILABLE", "Rate is not available")),
                "buy a label")


def test_an_unknown_object_is_not_found() -> None:
    with pytest.raises(NotFound, match=r"TRACKER\.NOT_FOUND"):
        read_answer(answer(404, error("TRACKER.NOT_FOUND", "The requested resource could not be "
                                  "found.")), "show tracker trk_x")


@pytest.mark.parametrize("status", [401, 403])
def test_a_refused_key_was_never_acted_on(status: int) -> None:
    with pytest.raises(ProviderUnavailable) as refused:
        read_answer(answer(status, error("APIKEY.INACTIVE", "This api key is no longer active.")),
                "create the shipment")
    assert refused.value.request_sent is False


@pytest.mark.parametrize("status", [408, 429, 500, 503])
def test_not_now_may_have_been_acted_on(status: int) -> None:
    with pytest.raises(ProviderUnavailable) as unavailable:
        read_answer(answer(status, error("INTERNAL_SERVER_ERROR", "oops")), "create the shipment")
    assert unavailable.value.request_sent is True and unavailable.value.retryable


def test_an_answer_that_is_not_json_is_unavailable() -> None:
    with pytest.raises(ProviderUnavailable, match="not JSON"):
        read_answer(answer(200, b"<html>maintenance</html>"), "create the shipment")
    with pytest.raises(DomainError, match=r"no reason given \[HTTP_400\]"):
        read_answer(answer(400, b"<html>bad request</html>"), "create the shipment")
