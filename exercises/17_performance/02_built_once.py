"""Build the engine, the HTTP client and the validator once, not on every request.

The quote endpoint below works, but every request pays for a new `AsyncEngine` (a connection
pool, opened and thrown away), a new `httpx.AsyncClient` (its own pool, TLS and all) and a new
`TypeAdapter` (a validator compiled from the type). Move each to where it belongs.

Contract (the checks rely on every line):
- `GET /quotes/{sku}` answers 200 with `{"sku", "in_stock", "tiers"}` (a `Quote`, keep this
  name): `in_stock` is the `qty` of the SKU's row in the `stock` table, `tiers` what the pricing
  service answers at `GET /prices/{sku}`, validated as a `list[Tier]` (keep this name). An SKU
  without a row answers 404 with `{"detail": "Unknown SKU"}`, and asks the pricing service
  nothing; a row with `qty` 0 is in the table, so it answers 200 with `in_stock` 0. When the
  pricing service answers an error status (4xx or 5xx), the endpoint answers 502 with
  `{"detail": "Pricing unavailable"}`.
- The engine is made with `create_async_engine(DATABASE_URL)` (keep both names; the checks
  replace them, and read them when the lifespan runs) exactly once per app start, in the
  lifespan, never at import and never per request; the lifespan disposes of it
  (`await engine.dispose()`) when the app stops.
- The pricing client is made as `httpx.AsyncClient(base_url=PRICING_URL)` (keep `import httpx`
  and the name `PRICING_URL`; the checks replace `httpx.AsyncClient` and give it a fake pricing
  service) exactly once per app start, in the lifespan, and closed when the app stops.
- Two app starts therefore make two engines and two clients: one each per start.
- `TIERS` (keep this name) is a module-level `TypeAdapter(list[Tier])`, made once at import:
  no `TypeAdapter` is made while the app runs.

Hand the engine and the client to requests through the lifespan state (`request.state`).
"""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TypedDict

import httpx
from fastapi import FastAPI, HTTPException
from pydantic import BaseModel, TypeAdapter
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

DATABASE_URL = "sqlite+aiosqlite:///stock.db"
PRICING_URL = "http://pricing.internal"


class Tier(BaseModel):
    min_qty: int
    cents: int


class Quote(BaseModel):
    sku: str
    in_stock: int
    tiers: list[Tier]


# TODO: make TIERS here, once: a TypeAdapter(list[Tier]).


class State(TypedDict):
    engine: AsyncEngine
    pricing: httpx.AsyncClient


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[State | None]:
    # TODO: make the engine and the pricing client here, yield them, then close both.
    yield


app = FastAPI(lifespan=lifespan)


# TODO: take the engine and the client from the lifespan state (dependencies reading
# request.state) instead of building them here.
@app.get("/quotes/{sku}")
async def quote(sku: str) -> Quote:
    engine = create_async_engine(DATABASE_URL)
    try:
        async with engine.connect() as conn:
            in_stock = await conn.scalar(
                text("SELECT qty FROM stock WHERE sku = :sku"), {"sku": sku}
            )
    finally:
        await engine.dispose()
    if in_stock is None:
        raise HTTPException(status_code=404, detail="Unknown SKU")
    async with httpx.AsyncClient(base_url=PRICING_URL) as pricing:
        response = await pricing.get(f"/prices/{sku}")
    if response.is_error:
        raise HTTPException(status_code=502, detail="Pricing unavailable")
    tiers = TypeAdapter(list[Tier]).validate_json(response.content)
    return Quote(sku=sku, in_stock=in_stock, tiers=tiers)
