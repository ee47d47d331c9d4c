"""A bulkhead for a fragile upstream: at most three pricing calls at once, across routes.

The pricing service falls over when more than three calls reach it at the same time.
Put a bulkhead in front of it with FastAPI's own concurrency limit on a dependency.

Given (keep these names):
- create_app(transport=None) builds the app. Its lifespan opens one httpx.AsyncClient
  for the pricing service at PRICING_URL, on `transport` when one is given (the checks
  pass an httpx.MockTransport), and closes it on shutdown.
- GET /quotes/{sku} asks the service GET /prices/{sku} and answers 200
  {"sku": sku, "price": <its "price">}.
- GET /discounts/{code} asks GET /discounts/{code} and answers 200
  {"code": code, "percent": <its "percent">}.
- When the service fails (a transport error, or any status outside 2xx), the route
  answers 502 {"detail": "pricing service unavailable"}.
- GET /health answers 200 {"status": "ok"} and never calls the service.

The bulkhead (your task):
- At most 3 calls to the pricing service are in flight at once, counted over /quotes
  and /discounts together. A request that finds all 3 slots taken waits for a free one
  (it is never refused), so every request is answered in the end; with 3 or more
  requests waiting, exactly 3 calls run at once (the cap is 3, not less). Which
  waiting request goes next is not specified.
- A request holds its slot from before its route gets the client until the route has
  returned or raised; the slot is given back before the response is sent, so a client
  slow to read its response never holds a slot. A failed call gives its slot back too,
  once: after any number of failures the cap is still exactly 3.
- GET /health takes no slot: it answers while all 3 slots are taken.
"""

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


# TODO: Keep a request's slot taken for as long as its route uses the client.
async def get_pricing(request: Request) -> httpx.AsyncClient:
    return request.state.pricing


# TODO: Cap get_pricing at MAX_PRICING_CALLS calls at once, over both routes together.
PricingDep = Annotated[httpx.AsyncClient, Depends(get_pricing)]


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
