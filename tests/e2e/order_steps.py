"""Steps the order, payment and callback tests share: a customer with an order (in a shop
started for the test, if need be), and waiting for an operation to end."""

from __future__ import annotations

from typing import Any

from tests.helpers import ORDER, eventually


async def customer_with_order(shop: Any, order: dict[str, Any] = ORDER
                              ) -> tuple[dict[str, str], dict[str, Any]]:
    """A newly signed-up customer's headers, and an order they placed."""
    auth = await shop.sign_up()
    return auth, await shop.place(auth, order)


async def shop_with_order(shop_factory: Any, order: dict[str, Any] = ORDER, **settings: Any
                          ) -> tuple[Any, dict[str, str], dict[str, Any]]:
    """A shop started with `settings`, a newly signed-up customer's headers, and an order
    they placed."""
    shop = await shop_factory(**settings)
    auth, placed = await customer_with_order(shop, order)
    return shop, auth, placed


async def operation_ends(shop: Any, auth: dict[str, str], operation_id: str, status: str, *,
                         what: str, timeout: float = 15.0) -> dict[str, Any]:
    """The operation's view once its status is `status`."""

    async def ended() -> dict[str, Any] | None:
        view = await shop.operation(auth, operation_id)
        return view if view["status"] == status else None

    found: dict[str, Any] = await eventually(ended, timeout=timeout, what=what)
    return found
