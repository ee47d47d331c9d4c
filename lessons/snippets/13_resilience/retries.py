import asyncio
import random
from collections.abc import Awaitable, Callable

import httpx

ATTEMPTS = 3
BASE_DELAY = 0.2
MAX_DELAY = 5.0
IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
RETRY_STATUSES = frozenset({429, 502, 503, 504})


def backoff(attempt: int, rand: Callable[[], float]) -> float:
    """Full jitter: anywhere between 0 and the exponential cap for this attempt."""
    return rand() * min(MAX_DELAY, BASE_DELAY * 2 ** (attempt - 1))


def retry_after(response: httpx.Response) -> float | None:
    """Retry-After in delta-seconds; an HTTP-date or garbage counts as absent."""
    value = response.headers.get("Retry-After", "")
    return float(value) if value.isdigit() else None


class RetryTransport(httpx.AsyncBaseTransport):
    def __init__(
        self,
        inner: httpx.AsyncBaseTransport,
        *,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self.inner, self.sleep, self.rand = inner, sleep, rand

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        retryable = request.method in IDEMPOTENT
        for attempt in range(1, ATTEMPTS + 1):
            last = attempt == ATTEMPTS
            try:
                response = await self.inner.handle_async_request(request)
            except httpx.TransportError:
                if not retryable or last:
                    raise  # as it is: the caller sees ConnectError, ReadTimeout, ...
                delay = backoff(attempt, self.rand)
            else:
                if not retryable or last or response.status_code not in RETRY_STATUSES:
                    return response
                hinted = response.status_code in (429, 503)  # where RFC 9110 and 6585 define it
                delay = retry_after(response) if hinted else None
                if delay is None:
                    if response.status_code == 429:
                        return response  # rate limited with no hint: waiting blindly helps no one
                    delay = backoff(attempt, self.rand)
                if delay > MAX_DELAY:
                    return response  # the server asks for longer than we are willing to wait
                await response.aclose()
            await self.sleep(delay)
        raise AssertionError("unreachable")
