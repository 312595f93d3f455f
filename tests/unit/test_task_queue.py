"""Handing work to the broker happens after the commit: a broker that is away loses nothing
and fails no request; the outage is logged once, and its end once."""

from __future__ import annotations

import logging

import dramatiq
import pytest
import redis
from dramatiq.brokers.stub import StubBroker

from adapters.queue import QUEUE, RUN_OUTBOX, DramatiqTaskQueue


class AwayBroker(StubBroker):
    """A broker whose enqueue fails while `away` is set, as Redis's client does."""

    def __init__(self) -> None:
        super().__init__()
        self.declare_queue(QUEUE)
        self.away = False
        self.tries = 0

    def enqueue(self, message: dramatiq.Message, *, delay: int | None = None) -> dramatiq.Message:
        self.tries += 1
        if self.away:
            raise redis.ConnectionError("Error 111 connecting to 127.0.0.1:6399.")
        return super().enqueue(message, delay=delay)


def test_a_broker_away_fails_no_hand_off_and_is_logged_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    broker = AwayBroker()
    queue = DramatiqTaskQueue(broker, retry_after_seconds=0.05)
    broker.away = True
    with caplog.at_level(logging.INFO, logger="mall.worker"):
        queue.dispatch_outbox(["obx_1", "obx_2"])
        queue.dispatch_inbox("ibx_1")
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "ConnectionError" in warnings[0].getMessage()
    assert "obx_1" not in caplog.text and "127.0.0.1" not in caplog.text
    # The hand-offs after the first failure are not even tried for a while (no waiting on a
    # broker that hangs).
    assert broker.tries == 1
    assert broker.queues[QUEUE].qsize() == 0


def test_the_broker_back_takes_messages_again(caplog: pytest.LogCaptureFixture) -> None:
    import time

    broker = AwayBroker()
    queue = DramatiqTaskQueue(broker, retry_after_seconds=0.05)
    broker.away = True
    queue.dispatch_outbox(["obx_1"])
    broker.away = False
    time.sleep(0.1)
    with caplog.at_level(logging.INFO, logger="mall.worker"):
        queue.dispatch_outbox(["obx_2"])
    assert "takes messages again" in caplog.text
    message = broker.queues[QUEUE].get_nowait()
    assert dramatiq.Message.decode(message).actor_name == RUN_OUTBOX
