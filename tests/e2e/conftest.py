from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

import bootstrap
from entrypoints.http.access_log import PathOnlyAccessLogger
from entrypoints.http.app import create_app
from tests.conftest import reset_database
from tests.helpers import eventually


@dataclass
class Shop:
    """A running backend and a client for it, with the customer-side steps spelled out."""

    client: TestClient
    container: bootstrap.Container

    async def sign_up(self, email: str | None = None,
                      password: str = "correct horse battery",
                      verified: bool = False) -> dict[str, str]:
        """A new password account, signed in; `verified`: its email confirmed through the
        emailed link (needed before linking sign-in providers)."""
        email = email or f"c{uuid.uuid4().hex[:8]}@example.com"
        response = await self.client.post("/v1/auth/register",
                                          json={"email": email, "password": password})
        assert response.status == 201, await response.text()
        if verified:
            await self.verify_email(email)
        response = await self.client.post("/v1/auth/login",
                                          json={"email": email, "password": password})
        assert response.status == 200, await response.text()
        token = (await response.json())["access_token"]
        return {"Authorization": f"Bearer {token}"}

    async def verify_email(self, email: str) -> None:
        notifier = self.container.notifier()

        async def link() -> str | None:
            return notifier.last_link(email, "verify_email")  # type: ignore[no-any-return]

        found = await eventually(link, what=f"the verification email to {email}")
        token = found.split("token=", 1)[1]
        response = await self.client.post("/v1/auth/email/verify", json={"token": token})
        assert response.status == 200, await response.text()

    async def place(self, auth: dict[str, str], order: dict[str, Any]) -> dict[str, Any]:
        response = await self.client.post("/v1/orders", json=order, headers=auth)
        assert response.status == 201, await response.text()
        return dict(await response.json())

    async def pay(self, auth: dict[str, str], order_id: str, token: str,
                  key: str | None = None) -> tuple[int, dict[str, Any]]:
        response = await self.client.post(
            f"/v1/orders/{order_id}/payments", json={"payment_method": token},
            headers={**auth, "Idempotency-Key": key or uuid.uuid4().hex},
        )
        return response.status, dict(await response.json())

    async def pay_to_the_end(self, auth: dict[str, str], order_id: str,
                             token: str) -> dict[str, Any]:
        """Pay, and follow the operation to its end when the request answered before it
        (202: the provider was slower than the request waits, as on a busy machine)."""
        status, operation = await self.pay(auth, order_id, token)
        if status == 202:

            async def ended() -> dict[str, Any] | None:
                seen = await self.operation(auth, operation["id"])
                return seen if seen["status"] not in ("pending", "processing") else None

            status, operation = 200, await eventually(ended, timeout=30, what="the payment")
        assert status == 200, operation
        return operation

    async def operation(self, auth: dict[str, str], operation_id: str) -> dict[str, Any]:
        response = await self.client.get(f"/v1/operations/{operation_id}", headers=auth)
        assert response.status == 200, await response.text()
        return dict(await response.json())

    async def order(self, auth: dict[str, str], order_id: str) -> dict[str, Any]:
        response = await self.client.get(f"/v1/orders/{order_id}", headers=auth)
        assert response.status == 200, await response.text()
        return dict(await response.json())


@pytest.fixture
def shop_factory(
    settings_factory: Callable[..., bootstrap.Settings], aiohttp_server: Any,
    aiohttp_client: Any, unused_tcp_port_factory: Callable[[], int],
) -> Callable[..., Any]:
    async def start(*, port: int | None = None, **overrides: Any) -> Shop:
        """`port`: listen there (a port known in advance, for a provider that must list our
        callback URL before we start); default: a free one."""
        port = port or unused_tcp_port_factory()
        settings = settings_factory(public_base_url=f"http://127.0.0.1:{port}", **overrides)
        container = bootstrap.build(settings)
        await reset_database(container)
        server = await aiohttp_server(create_app(container), port=port,
                                      access_log_class=PathOnlyAccessLogger)
        return Shop(await aiohttp_client(server), container)

    return start


@pytest.fixture
async def shop(shop_factory: Callable[..., Any]) -> AsyncIterator[Shop]:
    yield await shop_factory()
