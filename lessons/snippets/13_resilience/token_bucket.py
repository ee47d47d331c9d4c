import math
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

from client_address import rate_limit_key
from fastapi import Depends, FastAPI, Request, Response
from fastapi.responses import JSONResponse
from redis.asyncio import Redis
from redis.exceptions import WatchError

CAPACITY = 5  # the burst a client may send at once
REFILL_PER_SECOND = 0.5  # one token every 2 s
FULL_AFTER = math.ceil(CAPACITY / REFILL_PER_SECOND)  # seconds from empty to full
POLICY = f'"default";q={CAPACITY};w={FULL_AFTER}'


async def take(redis: Redis, key: str, now: float) -> tuple[bool, float]:
    """Take one token from the bucket at `key`; answer (allowed, tokens left)."""
    async with redis.pipeline(transaction=True) as pipe:
        while True:
            try:
                await pipe.watch(key)  # EXEC fails if anyone writes `key` before it
                stored = await pipe.hmget(key, "tokens", "at")
                tokens, at = (float(v) for v in stored) if stored[0] else (CAPACITY, now)
                tokens = min(CAPACITY, tokens + max(0.0, now - at) * REFILL_PER_SECOND)
                allowed = tokens >= 1
                if allowed:
                    tokens -= 1
                pipe.multi()
                pipe.hset(key, mapping={"tokens": repr(tokens), "at": repr(now)})
                pipe.expire(key, FULL_AFTER)  # by then it would be full: same as absent
                await pipe.execute()
                return allowed, tokens
            except WatchError:
                continue  # another request took a token meanwhile: read again


class TooManyRequests(Exception):
    def __init__(self, retry_after: int, headers: dict[str, str]) -> None:
        self.retry_after, self.headers = retry_after, headers


def clock() -> float:
    return time.time()


def rate_limit_headers(tokens: float) -> dict[str, str]:
    """r: whole tokens left; t: seconds until the next token, within which r is all there is."""
    next_token = math.ceil((1 - tokens % 1) / REFILL_PER_SECOND)
    return {"RateLimit-Policy": POLICY, "RateLimit": f'"default";r={int(tokens)};t={next_token}'}


async def rate_limited(
    request: Request, response: Response, now: Annotated[float, Depends(clock)]
) -> None:
    key = f"ratelimit:v1:{rate_limit_key(request)}"
    allowed, tokens = await take(request.state.redis, key, now)
    headers = rate_limit_headers(tokens)
    if not allowed:
        raise TooManyRequests(math.ceil((1 - tokens) / REFILL_PER_SECOND), headers)
    response.headers.update(headers)  # FastAPI copies these onto the route's response


def create_app(redis: Redis) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, Any]]:
        yield {"redis": redis}

    app = FastAPI(lifespan=lifespan, dependencies=[Depends(rate_limited)])

    @app.exception_handler(TooManyRequests)
    async def too_many(request: Request, exc: TooManyRequests) -> JSONResponse:
        problem = {"type": "about:blank", "title": "Too Many Requests", "status": 429}
        headers = {**exc.headers, "Retry-After": str(exc.retry_after)}
        return JSONResponse(problem, 429, headers, media_type="application/problem+json")

    @app.get("/search")
    async def search(q: str) -> dict[str, str]:
        return {"q": q}

    return app
