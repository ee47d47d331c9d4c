from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, TypedDict

import httpx
from fastapi import Depends, FastAPI, HTTPException, Request
from pydantic import BaseModel

UPSTREAM = "http://inventory.internal"
TIMEOUT = httpx.Timeout(5.0, connect=2.0)  # read, write and pool: 5 s; connect: 2 s
LIMITS = httpx.Limits(max_connections=10, max_keepalive_connections=5)


class Stock(BaseModel):
    sku: str
    available: int


class State(TypedDict):
    client: httpx.AsyncClient


def create_app(transport: httpx.AsyncBaseTransport | None = None) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[State]:
        async with httpx.AsyncClient(
            base_url=UPSTREAM, timeout=TIMEOUT, limits=LIMITS, transport=transport
        ) as client:
            yield {"client": client}  # closed when the app stops, not before

    app = FastAPI(lifespan=lifespan)

    async def get_client(request: Request) -> httpx.AsyncClient:
        return request.state.client

    Client = Annotated[httpx.AsyncClient, Depends(get_client)]

    @app.get("/stock/{sku}")
    async def read_stock(sku: str, client: Client) -> Stock:
        try:
            upstream = await client.get(f"/items/{sku}")
        except httpx.TimeoutException:
            raise HTTPException(504, "The inventory service did not answer in time") from None
        except httpx.TransportError:
            raise HTTPException(502, "The inventory service could not be reached") from None
        if upstream.status_code == 404:
            raise HTTPException(404, "No such item")
        if upstream.status_code != 200:
            raise HTTPException(502, "The inventory service failed")
        return Stock(sku=sku, available=upstream.json()["available"])

    return app
