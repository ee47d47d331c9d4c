from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
from asgi_lifespan import LifespanManager
from per_request import create_app
from starlette.types import ASGIApp, Receive, Scope, Send


# --8<-- [start:harness]
def copy_state_per_request(app: ASGIApp) -> ASGIApp:
    """Give each request a shallow copy of the lifespan state, as Uvicorn does."""

    async def with_copied_state(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket") and "state" in scope:
            scope = {**scope, "state": dict(scope["state"])}
        await app(scope, receive, send)

    return with_copied_state


@asynccontextmanager
async def running(app: ASGIApp) -> AsyncIterator[httpx.AsyncClient]:
    """A client for `app` with its lifespan running: start-up before, shutdown after."""
    manager = LifespanManager(copy_state_per_request(app))
    await manager.__aenter__()  # raises what the start-up raised
    try:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield client
    finally:
        # `async with LifespanManager(...)` sends no shutdown when its block raised
        await manager.__aexit__(None, None, None)


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with running(create_app()) as client:  # a new app, so new state, for every test
        yield client
        # --8<-- [end:harness]


# --8<-- [start:tests]
async def test_assignments_stay_in_their_request(client: httpx.AsyncClient) -> None:
    await client.post("/visits", params={"user": "ada"})
    second = await client.post("/visits", params={"user": "bob"})
    assert second.json()["seen"] == {"user": None, "mode": "live"}


async def test_shared_objects_are_shared_by_requests(client: httpx.AsyncClient) -> None:
    await client.post("/visits", params={"user": "ada"})
    second = await client.post("/visits", params={"user": "bob"})
    assert second.json()["visitors"] == ["ada", "bob"]


async def test_every_test_starts_from_a_fresh_lifespan(client: httpx.AsyncClient) -> None:
    first = await client.post("/visits", params={"user": "cy"})
    assert first.json()["visitors"] == ["cy"]
    # --8<-- [end:tests]
