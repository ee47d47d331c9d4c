import json
import math
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
from breaker import CircuitBreaker, CircuitOpenError, UpstreamError
from fastapi import FastAPI, HTTPException, Request, Response
from pydantic import BaseModel
from redis.asyncio import Redis
from redis.exceptions import RedisError

UPSTREAM = "http://pricing.internal"
PRICE_TTL = 86_400  # how stale a price may get before "no price" is the better answer


class Price(BaseModel):
    sku: str
    cents: int


async def quietly(command: Awaitable[Any]) -> Any:
    try:
        return await command
    except RedisError:
        return None  # the cache is down: fresh answers still flow (module 10)


def create_app(
    transport: httpx.AsyncBaseTransport,
    redis: Redis,
    breaker: CircuitBreaker,
    clock: Callable[[], float] = time.time,
) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, Any]]:
        async with httpx.AsyncClient(base_url=UPSTREAM, transport=transport) as client:
            yield {"client": client}

    app = FastAPI(lifespan=lifespan)

    @app.get("/price/{sku}")
    async def read_price(sku: str, request: Request, response: Response) -> Price:
        async def fetch() -> Price:
            upstream = await request.state.client.get(f"/prices/{sku}")
            if upstream.status_code >= 500:
                raise UpstreamError(upstream.status_code)
            if upstream.status_code == 404:
                raise HTTPException(404, "No such item")  # an answer, not a failure
            return Price.model_validate(upstream.json())

        key = f"price:v1:{sku}"
        try:
            price = await breaker.call(fetch)
        except (CircuitOpenError, httpx.TransportError, UpstreamError) as exc:
            if (cached := await quietly(redis.get(key))) is None:
                wait = exc.retry_after if isinstance(exc, CircuitOpenError) else 1
                headers = {"Retry-After": str(max(1, math.ceil(wait)))}
                raise HTTPException(503, "No price available", headers) from None
            entry = json.loads(cached)
            response.headers["X-Degraded"] = "1"
            response.headers["Age"] = str(int(clock() - entry["at"]))
            return Price.model_validate(entry["price"])
        entry = {"price": price.model_dump(), "at": clock()}
        await quietly(redis.set(key, json.dumps(entry), ex=PRICE_TTL))
        return price

    return app
