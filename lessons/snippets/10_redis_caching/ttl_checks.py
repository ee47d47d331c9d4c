from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from cache_aside import PRODUCT_TTL, app, product_key
from catalogue import ProductRow, State
from fastapi import FastAPI
from starlette.types import Receive, Scope, Send


@asynccontextmanager
async def serve(app: FastAPI) -> AsyncIterator[tuple[httpx.AsyncClient, State]]:
    """A client for `app` with its lifespan running, and the state the lifespan yielded."""
    async with app.router.lifespan_context(app) as state:

        async def with_state(scope: Scope, receive: Receive, send: Send) -> None:
            await app({**scope, "state": dict(state)}, receive, send)

        transport = httpx.ASGITransport(app=with_state)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield client, state


async def test_a_product_is_cached_for_product_ttl_seconds() -> None:
    async with serve(app) as (client, state):
        async with state["sessions"]() as session:
            session.add(ProductRow(id=1, name="Desk lamp", price_cents=3900))
            await session.commit()
        await client.get("/products/1")
        ttl = await state["redis"].ttl(product_key(1))
    assert PRODUCT_TTL - 1 <= ttl <= PRODUCT_TTL  # read the TTL: never sleep to watch it
