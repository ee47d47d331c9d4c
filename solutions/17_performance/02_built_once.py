"""A quote endpoint whose engine, HTTP client and validator are built once, not per request."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, TypedDict

import httpx
from fastapi import Depends, FastAPI, HTTPException, Request
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


TIERS = TypeAdapter(list[Tier])


class State(TypedDict):
    engine: AsyncEngine
    pricing: httpx.AsyncClient


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[State]:
    engine = create_async_engine(DATABASE_URL)
    try:
        async with httpx.AsyncClient(base_url=PRICING_URL) as pricing:
            yield {"engine": engine, "pricing": pricing}
    finally:
        await engine.dispose()


app = FastAPI(lifespan=lifespan)


async def get_engine(request: Request) -> AsyncEngine:
    return request.state.engine


async def get_pricing(request: Request) -> httpx.AsyncClient:
    return request.state.pricing


@app.get("/quotes/{sku}")
async def quote(
    sku: str,
    engine: Annotated[AsyncEngine, Depends(get_engine)],
    pricing: Annotated[httpx.AsyncClient, Depends(get_pricing)],
) -> Quote:
    async with engine.connect() as conn:
        in_stock = await conn.scalar(text("SELECT qty FROM stock WHERE sku = :sku"), {"sku": sku})
    if in_stock is None:
        raise HTTPException(status_code=404, detail="Unknown SKU")
    response = await pricing.get(f"/prices/{sku}")
    if response.is_error:
        raise HTTPException(status_code=502, detail="Pricing unavailable")
    return Quote(sku=sku, in_stock=in_stock, tiers=TIERS.validate_json(response.content))
