"""Degraded, not down: the last good price from Redis while the pricing service fails.

Task: `GET /price/{sku}` asks the pricing service through a circuit breaker (the one of
exercise 03, given). When the service fails, or the breaker refuses, the client gets a
500, although the app saw that very price a minute ago. Keep the last good price of every
SKU in Redis and serve it, saying that it is old, while the service is down.

The contract (the checks rely on every line):
- Given, keep as they are: `UPSTREAM`, `CACHE_TTL` (one day), `FAILURE_THRESHOLD` (3),
  `RESET_TIMEOUT` (30 s), `REDIS_TIMEOUT`, the breaker and its errors (`CircuitBreaker`,
  `CircuitOpenError`, `UpstreamError`, `FAILURE_TYPES`), `UnknownSku`, `Price`,
  `CachedPrice`, `fetch_price`, `redis_from_env`, `price_key` and `create_app` (keep these
  names). The lifespan yields a state with "client", "breaker" and "redis"; the checks read
  Redis through that client, and take Redis down by making it fail to connect: send every
  Redis command through it.
- `create_app(transport=None, clock=time.time)`: `clock()` gives seconds since the epoch;
  the breaker and the cache both read time only through it.
- Every request asks the breaker first, `await breaker.call(fetch_price, client, sku)`: never
  the service around the breaker, never the cache before it.
- Fresh: the service answers. 200 with the price (`{"sku": ..., "price_cents": ...}`), with
  neither `X-Degraded` nor `Age`, and the price is stored at `price_key(sku)`
  ("price:v1:{sku}") with a TTL of exactly `CACHE_TTL` seconds, along with `clock()` at that
  moment (a `CachedPrice` as JSON is the suggested form; the stored form is not graded).
- The service knows no such SKU (`UnknownSku`, a 404): 404 `{"detail": "Unknown SKU"}`, even
  when a price is cached; the cache is left as it is.
- Degraded: the call fails (one of `FAILURE_TYPES`) or the breaker refuses it
  (`CircuitOpenError`), and a price is cached. 200 with the cached price, the header
  `X-Degraded: 1`, and `Age`: the whole seconds since the price was cached,
  `floor(clock() - cached_at)`, and 0 when that is negative (another instance's clock ran
  ahead). A degraded answer never writes to Redis: the entry, its TTL and its age stay.
- Down: the call fails or is refused, and nothing is cached. 503
  `{"detail": "Prices are unavailable"}` with `Retry-After`: when the breaker refused, its
  `retry_after` rounded up to whole seconds and at least 1; when the call itself failed, 1.
- Redis is a help, never a need: when a Redis command fails (redis-py's `RedisError`, any
  subclass), a failed read counts as nothing cached and a failed store is skipped; the answer
  is otherwise the same (a fresh 200, or a 503), never a 500.
"""

import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import ParamSpec, TypedDict, TypeVar

import httpx
from fakeredis import FakeAsyncRedis
from fastapi import FastAPI, HTTPException, Request, Response
from pydantic import BaseModel
from redis.asyncio import Redis

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
        # TODO: Store every fresh price at price_key(sku) for CACHE_TTL seconds, with clock().
        # TODO: When the call fails or is refused, serve the cached price with X-Degraded and Age.
        # TODO: With nothing cached (or Redis down), answer 503 with Retry-After.
        try:
            return await request.state.breaker.call(fetch_price, request.state.client, sku)
        except UnknownSku:
            raise HTTPException(404, "Unknown SKU") from None

    return app
