"""A bulkhead: at most three calls to a fragile pricing service at once, across routes."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

import httpx
from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request
from pydantic import BaseModel

PRICING_URL = "https://pricing.internal"
MAX_PRICING_CALLS = 3


class Quote(BaseModel):
    sku: str
    price: float


class Discount(BaseModel):
    code: str
    percent: int


async def get_pricing(request: Request) -> AsyncIterator[httpx.AsyncClient]:
    # a yield dependency keeps its slot until its exit runs: the route's call is inside
    yield request.state.pricing


# one Depends object, one limit: every route using the alias shares the three slots;
# scope="function" gives the slot back before the response is sent
PricingDep = Annotated[
    httpx.AsyncClient,
    Depends(get_pricing, max_concurrency=MAX_PRICING_CALLS, scope="function"),
]


async def fetch(pricing: httpx.AsyncClient, path: str) -> Any:
    try:
        response = await pricing.get(path)
        response.raise_for_status()
    except httpx.HTTPError:
        raise HTTPException(502, "pricing service unavailable") from None
    return response.json()


router = APIRouter()


@router.get("/quotes/{sku}")
async def quote(sku: str, pricing: PricingDep) -> Quote:
    data = await fetch(pricing, f"/prices/{sku}")
    return Quote(sku=sku, price=data["price"])


@router.get("/discounts/{code}")
async def discount(code: str, pricing: PricingDep) -> Discount:
    data = await fetch(pricing, f"/discounts/{code}")
    return Discount(code=code, percent=data["percent"])


@router.get("/health")
async def health() -> dict[str, str]:
    return {"status": "ok"}


def create_app(transport: httpx.AsyncBaseTransport | None = None) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, httpx.AsyncClient]]:
        async with httpx.AsyncClient(base_url=PRICING_URL, transport=transport) as pricing:
            yield {"pricing": pricing}

    app = FastAPI(lifespan=lifespan)
    app.include_router(router)
    return app
