"""Operations the customer polls: progress, a single finish, and the "still processing" note."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from domain.operations import STILL_PROCESSING, Operation, OperationStatus

T0 = datetime(2024, 5, 1, 9, 0, tzinfo=UTC)


def later(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def operation() -> Operation:
    return Operation(id="op-1", customer_id="c-1", kind="payment", subject="order:o-1",
                     created_at=T0)


def test_new_operation_view() -> None:
    op = operation()
    view = op.view(later(1), slow_after_seconds=10)
    assert view == {
        "id": "op-1", "kind": "payment", "subject": "order:o-1", "status": "pending",
        "message": "Received; waiting for the provider.", "still_processing": False,
        "elapsed_seconds": 1.0, "result": None,
    }


def test_progress_updates_status_and_message() -> None:
    op = operation()
    op.progress("Asking the bank", later(2))
    assert op.status == OperationStatus.PROCESSING
    assert op.updated_at == later(2)
    view = op.view(later(3), slow_after_seconds=10)
    assert view["message"] == "Asking the bank"
    assert view["status"] == "processing"
    assert view["still_processing"] is False


def test_still_processing_once_slow_threshold_passed() -> None:
    op = operation()
    op.progress("Asking the bank", later(1))
    view = op.view(later(12.34), slow_after_seconds=10)
    assert view["still_processing"] is True
    assert view["message"] == STILL_PROCESSING
    assert view["status"] == "processing"
    assert view["elapsed_seconds"] == 12.3
    assert op.message == "Asking the bank"  # the view does not overwrite the stored message


def test_slow_threshold_boundary() -> None:
    op = operation()
    assert op.view(later(9.999), slow_after_seconds=10)["still_processing"] is False
    assert op.view(later(10), slow_after_seconds=10)["still_processing"] is True


def test_pending_operation_also_reports_still_processing() -> None:
    view = operation().view(later(60), slow_after_seconds=5)
    assert view["still_processing"] is True
    assert view["message"] == STILL_PROCESSING


def test_finished_operation_is_not_still_processing() -> None:
    for succeeded, status in ((True, "succeeded"), (False, "failed")):
        op = operation()
        assert op.finish(succeeded=succeeded, message="Done", result={"payment_id": "p-1"},
                         now=later(30))
        view = op.view(later(600), slow_after_seconds=5)
        assert view["still_processing"] is False
        assert view["message"] == "Done"
        assert view["status"] == status
        assert view["result"] == {"payment_id": "p-1"}
        assert op.is_final


def test_finish_twice_returns_false_and_keeps_the_first_outcome() -> None:
    op = operation()
    assert op.finish(succeeded=True, message="Paid", result={"n": 1}, now=later(5)) is True
    assert op.finish(succeeded=False, message="Failed", result={"n": 2}, now=later(6)) is False
    assert op.status == OperationStatus.SUCCEEDED
    assert op.message == "Paid"
    assert op.result == {"n": 1}
    assert op.updated_at == later(5)


def test_progress_after_finish_is_ignored() -> None:
    op = operation()
    op.finish(succeeded=False, message="Declined", result={}, now=later(5))
    op.progress("Asking the bank", later(6))
    assert op.status == OperationStatus.FAILED
    assert op.message == "Declined"
    assert op.updated_at == later(5)
