"""A transport that retries idempotent requests, with capped and fully jittered backoff."""

import random
from collections.abc import Awaitable, Callable

import anyio
import httpx

ATTEMPTS = 3  # in all, the first one included
BASE_DELAY = 0.5  # seconds: the cap of the first backoff, doubled at each retry
MAX_DELAY = 5.0  # seconds: no backoff is longer, and a longer Retry-After is not waited for
IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
RETRIED_STATUSES = frozenset({502, 503, 504})


def retry_after(response: httpx.Response) -> int | None:
    """The seconds a 429 or a 503 asks to wait, or None when it asks nothing we can read."""
    value = response.headers.get("retry-after", "")
    if response.status_code in (429, 503) and value.isascii() and value.isdigit():
        return int(value)
    return None


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
        if attempts < 1:
            raise ValueError("attempts must be at least 1")
        self.inner, self.attempts = inner, attempts
        self.base_delay, self.max_delay = base_delay, max_delay
        self.sleep, self.random = sleep, random

    def backoff(self, attempt: int) -> float:
        # full jitter: retries from many clients spread out instead of arriving together
        return self.random() * min(self.max_delay, self.base_delay * 2.0 ** (attempt - 1))

    def delay_after(self, response: httpx.Response, attempt: int) -> float | None:
        """How long to wait before trying again, or None to hand the response back."""
        asked = retry_after(response)
        if asked is not None:
            return asked if asked <= self.max_delay else None
        if response.status_code in RETRIED_STATUSES:
            return self.backoff(attempt)
        return None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        # POST and PATCH may have taken effect before the failure: sending them again is unsafe
        if request.method in IDEMPOTENT:
            for attempt in range(1, self.attempts):
                try:
                    response = await self.inner.handle_async_request(request)
                except httpx.TransportError:
                    await self.sleep(self.backoff(attempt))
                    continue
                if (delay := self.delay_after(response, attempt)) is None:
                    return response
                await response.aclose()
                await self.sleep(delay)
        # the last attempt, or the only one: its response or its exception, as they are
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()
