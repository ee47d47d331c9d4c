"""A circuit breaker from scratch: closed, open and half-open, on an injected clock."""

import math
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Literal, ParamSpec, TypedDict, TypeVar

import httpx
from fastapi import FastAPI, HTTPException, Request
from pydantic import BaseModel

UPSTREAM = "http://quotes.internal"

P = ParamSpec("P")
T = TypeVar("T")
BreakerState = Literal["closed", "open", "half_open"]


class UpstreamError(Exception):
    """The quote service answered with a 5xx status."""


class UnknownSymbol(Exception):
    """The quote service knows no such symbol (404): an answer, not a failure."""


class CircuitOpenError(Exception):
    """The breaker refused a call without making it."""

    def __init__(self, retry_after: float) -> None:
        super().__init__(f"the circuit is open, retry in {retry_after:g} s")
        self.retry_after = retry_after


FAILURE_TYPES: tuple[type[BaseException], ...] = (httpx.TransportError, UpstreamError)


class CircuitBreaker:
    def __init__(
        self,
        failure_threshold: int = 5,
        reset_timeout: float = 30.0,
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

    @property
    def state(self) -> BreakerState:
        if self._opened_at is None:
            return "closed"
        if self.clock() < self._opened_at + self.reset_timeout:
            return "open"
        return "half_open"

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


class Quote(BaseModel):
    symbol: str
    price_cents: int


async def fetch_quote(client: httpx.AsyncClient, symbol: str) -> Quote:
    response = await client.get(f"/quotes/{symbol}")
    if response.status_code == 404:
        raise UnknownSymbol(symbol)
    if response.status_code >= 500:
        raise UpstreamError(f"the quote service answered {response.status_code}")
    response.raise_for_status()
    return Quote.model_validate_json(response.content)


class AppState(TypedDict):
    client: httpx.AsyncClient
    breaker: CircuitBreaker


def create_app(
    transport: httpx.AsyncBaseTransport | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[AppState]:
        async with httpx.AsyncClient(base_url=UPSTREAM, transport=transport) as client:
            yield {"client": client, "breaker": CircuitBreaker(clock=clock)}

    app = FastAPI(lifespan=lifespan)

    @app.get("/quote/{symbol}")
    async def read_quote(symbol: str, request: Request) -> Quote:
        try:
            return await request.state.breaker.call(fetch_quote, request.state.client, symbol)
        except CircuitOpenError as error:
            # a client told 0 would come straight back while the trial is running
            retry_after = max(1, math.ceil(error.retry_after))
            headers = {"Retry-After": str(retry_after)}
            raise HTTPException(503, "The quote service is unavailable", headers=headers) from None
        except UnknownSymbol:
            raise HTTPException(404, "Unknown symbol") from None
        except FAILURE_TYPES:
            raise HTTPException(502, "The quote service failed") from None

    return app
