"""A circuit breaker from scratch: closed, open and half-open, on an injected clock.

Task: the quote app calls its upstream through `CircuitBreaker.call`, which for now only
makes the call. When the quote service is down, every request still waits for it to fail.
Write the breaker: after a run of failures it stops calling the upstream for a while, then
lets one trial call find out whether the service is back. Then answer a refused call with 503.

The contract (the checks rely on every line):
- Given, keep these names: `UPSTREAM`, `UpstreamError` (raised by `fetch_quote` for a 5xx),
  `UnknownSymbol` (for a 404), `CircuitOpenError` (its `retry_after` in seconds),
  `FAILURE_TYPES`, `Quote`, `fetch_quote`, `create_app` and the route `/quote/{symbol}`.
- `CircuitBreaker(failure_threshold=5, reset_timeout=30.0, *, failure_types=FAILURE_TYPES,
  clock=time.monotonic)` (keep these names). `failure_threshold` below 1 or `reset_timeout`
  below 0 raises `ValueError`; `reset_timeout` 0 is allowed (open, and at once half-open).
  `clock()` gives seconds; the breaker reads time only through it.
- A failure is an exception that is an instance of one of `failure_types` (the defaults:
  `httpx.TransportError`, which covers connect errors and timeouts, and `UpstreamError`).
  Any other exception (`UnknownSymbol`, `httpx.HTTPStatusError` for another 4xx, a bug, a
  cancellation) is not a failure and not a success: it changes nothing in the breaker.
- `await breaker.call(fn, *args, **kwargs)` (keep this name) awaits `fn(*args, **kwargs)` when
  the breaker lets the call go, and returns its result, or lets its exception through as it
  was raised. When the breaker refuses, it raises `CircuitOpenError` without calling `fn`.
- Closed: every call goes. The failures in a row are counted; a call that returns sets the
  count back to 0. The `failure_threshold`-th failure in a row opens the breaker at
  `clock()` read when that failure comes back (after `fn` raised, not before the call).
- Open, while `clock() < opened_at + reset_timeout`: every call is refused with
  `CircuitOpenError(retry_after=opened_at + reset_timeout - clock())`.
- Half-open, from `clock() >= opened_at + reset_timeout` on: the first call goes, as the
  trial. While it runs, every other call is refused with `CircuitOpenError(retry_after=0.0)`.
  The trial returns: closed, count 0. It fails: open again, from `clock()` read when it came
  back. It ends any other way (another exception, or cancelled): still half-open, and the
  next call is the trial.
- `breaker.state` (keep this name) is "closed", "open" or "half_open", read with `clock()`
  at that moment: an open breaker turns half-open by itself once its time is up. While a
  trial runs, it is "half_open".
- Not graded: calls that overlap a change of state (one started while closed that ends
  after the breaker opened).
- `create_app(transport=None, clock=time.monotonic)` gives each app one breaker, made with
  the defaults and that clock, shared by all its requests. `GET /quote/{symbol}` answers
  200 with the quote; 404 `{"detail": "Unknown symbol"}`; 502
  `{"detail": "The quote service failed"}` for a failure; and, when the breaker refuses,
  503 `{"detail": "The quote service is unavailable"}` with the header `Retry-After`: the
  error's `retry_after` rounded up to whole seconds, and at least 1 ("1" during a trial).
"""

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
        # TODO: Refuse a failure_threshold below 1 or a reset_timeout below 0 with ValueError.
        self.failure_threshold = failure_threshold
        self.reset_timeout = reset_timeout
        self.failure_types = failure_types
        self.clock = clock
        # TODO: Keep what the breaker must remember: failures in a row, when it opened, a trial.

    @property
    def state(self) -> BreakerState:
        # TODO: Answer "open" until opened_at + reset_timeout, then "half_open".
        return "closed"

    async def call(self, fn: Callable[P, Awaitable[T]], *args: P.args, **kwargs: P.kwargs) -> T:
        # TODO: Refuse the call with CircuitOpenError while open, or while a trial runs.
        # TODO: Count the failures in a row, open at the threshold, and judge the trial.
        return await fn(*args, **kwargs)


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
        # TODO: Answer CircuitOpenError with 503 and a Retry-After of whole seconds, at least 1.
        except UnknownSymbol:
            raise HTTPException(404, "Unknown symbol") from None
        except FAILURE_TYPES:
            raise HTTPException(502, "The quote service failed") from None

    return app
