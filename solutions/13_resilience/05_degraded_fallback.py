"""Degraded, not down: the last good price from Redis while the pricing service fails."""

import math
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, suppress
from typing import ParamSpec, TypedDict, TypeVar

import httpx
from fakeredis import FakeAsyncRedis
from fastapi import FastAPI, HTTPException, Request, Response
from pydantic import BaseModel
from redis.asyncio import Redis
from redis.exceptions import RedisError

UPSTREAM = "http://pricing.internal"
CACHE_TTL = 24 * 60 * 60  # seconds: the oldest price worth serving when the service fails
FAILURE_THRESHOLD = 3
RESET_TIMEOUT = 30.0  # seconds
REDIS_TIMEOUT = 0.25  # seconds: a cache slower than this is no help

P = ParamSpec("P")
T = TypeVar("T")


class UpstreamError(Exception):
    """The pricing service answered with a 5xx status."""


class UnknownSku(Exception):
    """The pricing service knows no such SKU (404): an answer, not a failure."""


class CircuitOpenError(Exception):
    """The breaker refused a call without making it."""

    def __init__(self, retry_after: float) -> None:
        super().__init__(f"the circuit is open, retry in {retry_after:g} s")
        self.retry_after = retry_after


FAILURE_TYPES: tuple[type[BaseException], ...] = (httpx.TransportError, UpstreamError)


class CircuitBreaker:
    def __init__(
        self,
        failure_threshold: int,
        reset_timeout: float,
        *,
        failure_types: tuple[type[BaseException], ...] = FAILURE_TYPES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if failure_threshold < 1 or reset_timeout < 0:
            raise ValueError("failure_threshold must be 1 or more, reset_timeout 0 or more")
        self.failure_threshold = failure_threshold
        self.reset_timeout = reset_timeout
        self.failure_types = failure_types
        self.clock = clock
        self._failures = 0
        self._opened_at: float | None = None
        self._trial = False

    async def call(self, fn: Callable[P, Awaitable[T]], *args: P.args, **kwargs: P.kwargs) -> T:
        trial = self._admit()
        try:
            result = await fn(*args, **kwargs)
        except self.failure_types:
            if trial:
                self._opened_at = self.clock()
            else:
                self._failures += 1
                if self._failures >= self.failure_threshold:
                    # the moment the failure came back: a slow timeout must not eat the pause
                    self._opened_at = self.clock()
            raise
        finally:
            if trial:  # however the trial ended, even cancelled, the next call may try
                self._trial = False
        self._failures = 0
        self._opened_at = None
        return result

    def _admit(self) -> bool:
        """Whether the call is the half-open trial; raises CircuitOpenError if it may not go."""
        if self._opened_at is None:
            return False
        left = self._opened_at + self.reset_timeout - self.clock()
        if left > 0:
            raise CircuitOpenError(left)
        if self._trial:
            raise CircuitOpenError(0.0)
        self._trial = True
        return True


class Price(BaseModel):
    sku: str
    price_cents: int


class CachedPrice(BaseModel):
    price: Price
    cached_at: float  # clock() when the price came fresh from the service


async def fetch_price(client: httpx.AsyncClient, sku: str) -> Price:
    response = await client.get(f"/prices/{sku}")
    if response.status_code == 404:
        raise UnknownSku(sku)
    if response.status_code >= 500:
        raise UpstreamError(f"the pricing service answered {response.status_code}")
    response.raise_for_status()
    return Price.model_validate_json(response.content)


def redis_from_env() -> Redis:
    """The Redis that REDIS_URL names, or a new in-process fakeredis when it is unset."""
    if url := os.environ.get("REDIS_URL"):
        return Redis.from_url(
            url,
            decode_responses=True,
            socket_connect_timeout=REDIS_TIMEOUT,
            socket_timeout=REDIS_TIMEOUT,
        )
    return FakeAsyncRedis(decode_responses=True)


def price_key(sku: str) -> str:
    return f"price:v1:{sku}"


class AppState(TypedDict):
    client: httpx.AsyncClient
    breaker: CircuitBreaker
    redis: Redis


async def last_good_price(redis: Redis, sku: str) -> CachedPrice | None:
    try:
        cached = await redis.get(price_key(sku))
    except RedisError:  # no cache is a miss, not a 500
        return None
    return None if cached is None else CachedPrice.model_validate_json(cached)


def create_app(
    transport: httpx.AsyncBaseTransport | None = None,
    clock: Callable[[], float] = time.time,
) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[AppState]:
        breaker = CircuitBreaker(FAILURE_THRESHOLD, RESET_TIMEOUT, clock=clock)
        redis = redis_from_env()  # connects at its first command: starting needs no Redis
        async with httpx.AsyncClient(base_url=UPSTREAM, transport=transport) as client:
            yield {"client": client, "breaker": breaker, "redis": redis}
        await redis.aclose()

    app = FastAPI(lifespan=lifespan)

    @app.get("/price/{sku}")
    async def read_price(sku: str, request: Request, response: Response) -> Price:
        redis: Redis = request.state.redis
        try:
            price = await request.state.breaker.call(fetch_price, request.state.client, sku)
        except UnknownSku:
            raise HTTPException(404, "Unknown SKU") from None
        except (CircuitOpenError, *FAILURE_TYPES) as error:
            if (cached := await last_good_price(redis, sku)) is None:
                retry_after = 1  # the call itself failed: the breaker has no time to give
                if isinstance(error, CircuitOpenError):
                    retry_after = max(1, math.ceil(error.retry_after))
                headers = {"Retry-After": str(retry_after)}
                raise HTTPException(503, "Prices are unavailable", headers=headers) from None
            response.headers["X-Degraded"] = "1"
            response.headers["Age"] = str(max(0, math.floor(clock() - cached.cached_at)))
            return cached.price  # never stored again: its age must keep growing
        entry = CachedPrice(price=price, cached_at=clock())
        with suppress(RedisError):  # the fresh price is served all the same
            await redis.set(price_key(sku), entry.model_dump_json(), ex=CACHE_TTL)
        return price

    return app
