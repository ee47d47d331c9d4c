"""Retry what is safe to retry: an httpx transport with capped, jittered backoff.

Task: `RetryTransport` wraps another transport (the one that really talks to the
network) and, for now, sends every request once. Make it retry the requests that are safe
to send again, on the failures worth another try, waiting a little longer each time.
An app uses it through its one shared client,
`httpx.AsyncClient(transport=RetryTransport(httpx.AsyncHTTPTransport(limits=...)))`: a
client given a transport does not use its own `limits=`, so they go on the inner one.

The contract (the checks rely on every line):
- Given, keep these names: `ATTEMPTS` (3), `BASE_DELAY` (0.5 s), `MAX_DELAY` (5 s), and
  `RetryTransport` with its signature; its options default to these constants.
  `attempts` counts every attempt, the first one included: 3 means at most two retries.
  `attempts` below 1 raises ValueError when the transport is made.
- `handle_async_request(request)` sends the same request, body and headers unchanged, at
  every attempt: hand `request` itself to `inner.handle_async_request`. Each request starts
  from its first attempt: nothing is remembered from one request to the next.
- Only GET, HEAD, OPTIONS, PUT and DELETE are retried. Any other method (POST, PATCH, ...)
  is sent once, and its response or exception goes to the caller as it is.
- An attempt is worth retrying when the inner transport raises an `httpx.TransportError`
  (connect errors, timeouts, a dropped connection, ...), or answers 502, 503 or 504, or
  answers 429 with a usable Retry-After (below). Any other response (2xx, 3xx, 4xx, a 429
  without a usable Retry-After, 500, 501, 505, ...) comes back as it is, at once. Any
  other exception is raised at once, as it is, never retried.
- Before the next attempt, close the response being retried (`await response.aclose()`),
  then `await sleep(delay)` once. The delay after failed attempt n (1, 2, ...) is:
  - a 429 or 503 with a usable Retry-After: exactly its value in seconds, no jitter;
    a value above `max_delay` is not waited for: that response comes back at once;
  - otherwise the full-jitter backoff `random() * min(max_delay, base_delay * 2 ** (n - 1))`,
    calling the injected `random` once for it.
  Retry-After is usable when it is one or more ASCII digits and nothing else ("0", "2"):
  an HTTP-date, "1.5", "-1" or an empty value counts as absent. It is read only on a 429
  and a 503; on a 502 or a 504 the backoff applies.
- The last attempt is never followed by a sleep: its response comes back as it is (open,
  for the caller to read), or its exception reaches the caller as it is (the very object
  the inner transport raised).
- `aclose()` closes the inner transport (a client closes its transport when it closes).
- `sleep` and `random` are injected (the checks pass ones that only record, and never
  wait): call them, never `asyncio.sleep` or `random.random` directly.
"""

import random
from collections.abc import Awaitable, Callable

import anyio
import httpx

ATTEMPTS = 3  # in all, the first one included
BASE_DELAY = 0.5  # seconds: the cap of the first backoff, doubled at each retry
MAX_DELAY = 5.0  # seconds: no backoff is longer, and a longer Retry-After is not waited for


class RetryTransport(httpx.AsyncBaseTransport):
    def __init__(
        self,
        inner: httpx.AsyncBaseTransport,
        *,
        attempts: int = ATTEMPTS,
        base_delay: float = BASE_DELAY,
        max_delay: float = MAX_DELAY,
        sleep: Callable[[float], Awaitable[object]] = anyio.sleep,
        random: Callable[[], float] = random.random,
    ) -> None:
        # TODO: Refuse attempts below 1 with ValueError.
        self.inner, self.attempts = inner, attempts
        self.base_delay, self.max_delay = base_delay, max_delay
        self.sleep, self.random = sleep, random

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        # TODO: Retry idempotent methods on transport errors, 502/503/504 and 429 with
        # TODO: Retry-After, sleeping the Retry-After or the jittered backoff in between.
        return await self.inner.handle_async_request(request)

    # TODO: Close the inner transport when this one is closed (aclose).
