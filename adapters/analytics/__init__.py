"""Analytics services (one module each) and the queue of events waiting for them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from application.ports.analytics import BatchReceipt


async def send_in_order(requests: Sequence[tuple[Any, list[str]]],
                        post: Callable[[Any], Awaitable[str]],
                        refused: dict[str, str]) -> BatchReceipt:
    """Post each request body (with the message ids it carries) in turn; the first that
    fails ("retry: ..." or why it was refused) stops the sending, and its events and every
    later one are in the receipt under that reason."""
    retry: dict[str, str] = {}
    for index, (body, _) in enumerate(requests):
        problem = await post(body)
        if problem:
            failed = [message_id for _, ids in requests[index:] for message_id in ids]
            (retry if problem.startswith("retry") else refused).update(
                dict.fromkeys(failed, problem))
            break
    return BatchReceipt(refused, retry)
