"""Expensive objects built once per app, in the lifespan or at import, never per request."""

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, TypedDict

import httpx
from fastapi import Depends, FastAPI, Request
from pydantic import BaseModel, TypeAdapter

UPSTREAM = "http://prices.internal"


class Price(BaseModel):
    sku: str
    cents: int


# --8<-- [start:module]
SKU = re.compile(r"[A-Z]{3}-\d{4}")  # compiled once, when the module is imported
PRICES = TypeAdapter(list[Price])  # its validator and serializer are built here, once
# --8<-- [end:module]


class State(TypedDict):
    client: httpx.AsyncClient


# --8<-- [start:app]
def create_app(transport: httpx.AsyncBaseTransport | None = None) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[State]:
        async with httpx.AsyncClient(base_url=UPSTREAM, transport=transport) as client:
            yield {"client": client}  # one client, one pool, for every request of this app

    app = FastAPI(lifespan=lifespan)

    async def get_client(request: Request) -> httpx.AsyncClient:
        return request.state.client

    @app.get("/prices")
    async def prices(
        client: Annotated[httpx.AsyncClient, Depends(get_client)], sku: str
    ) -> list[Price]:
        wanted = [s for s in sku.split(",") if SKU.fullmatch(s)]
        upstream = await client.get("/prices", params={"sku": wanted})
        return PRICES.validate_json(upstream.content)

    return app


# --8<-- [end:app]


# --8<-- [start:slow]
def create_slow_app(transport: httpx.AsyncBaseTransport | None = None) -> FastAPI:
    app = FastAPI()

    @app.get("/prices")
    async def prices(sku: str) -> list[Price]:
        pattern = re.compile(r"[A-Z]{3}-\d{4}")  # the re module's cache hides this one
        adapter = TypeAdapter(list[Price])  # a new validator, every request
        wanted = [s for s in sku.split(",") if pattern.fullmatch(s)]
        async with httpx.AsyncClient(base_url=UPSTREAM, transport=transport) as client:
            upstream = await client.get("/prices", params={"sku": wanted})  # a new pool
        return adapter.validate_json(upstream.content)

    return app


# --8<-- [end:slow]
