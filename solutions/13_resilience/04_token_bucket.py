"""One rate limit for every instance: a token bucket in Redis, keyed by user or client address."""

import math
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, TypedDict

from fakeredis import FakeAsyncRedis
from fastapi import Depends, FastAPI, Request, Response
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from redis.asyncio import Redis
from redis.exceptions import WatchError

CAPACITY = 5  # tokens: the burst one subject may send at once
REFILL_PER_SECOND = 0.5  # one token back every 2 seconds
FULL_AFTER = 10  # seconds an empty bucket takes to fill up: CAPACITY / REFILL_PER_SECOND
POLICY = "default"
TRUSTED_PROXIES = frozenset({"10.0.0.2", "10.0.0.3"})  # our own load balancers
TOKENS = {"tok-ada": "ada", "tok-grace": "grace"}  # bearer token -> user name
EMBEDDED_REDIS_URL = "redis://embedded-redis:6379/0"
QUOTA_EXCEEDED = {
    "type": "https://iana.org/assignments/http-problem-types#quota-exceeded",
    "title": "Too Many Requests",
    "status": 429,
    "violated-policies": [POLICY],
}


def redis_from_env() -> Redis:
    """Given: the Redis that REDIS_URL names, or fakeredis's in-process server: every app
    of this process started without REDIS_URL shares it, as instances share a real Redis."""
    if url := os.environ.get("REDIS_URL"):
        return Redis.from_url(url, decode_responses=True)
    return FakeAsyncRedis.from_url(EMBEDDED_REDIS_URL, decode_responses=True)


class State(TypedDict):
    redis: Redis


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[State]:
    redis = redis_from_env()
    yield {"redis": redis}
    await redis.aclose()


async def get_redis(request: Request) -> Redis:
    return request.state.redis


RedisDep = Annotated[Redis, Depends(get_redis)]


async def clock(redis: RedisDep) -> float:
    """Given: seconds since the epoch by Redis's clock, the one clock all instances share."""
    seconds, micros = await redis.time()
    return seconds + micros / 1_000_000


class RateLimited(Exception):
    """Given: raise it to answer 429 with the problem body and these headers."""

    def __init__(self, headers: dict[str, str]) -> None:
        self.headers = headers


async def too_many_requests(request: Request, exc: RateLimited) -> JSONResponse:
    return JSONResponse(
        QUOTA_EXCEEDED, 429, headers=exc.headers, media_type="application/problem+json"
    )


def client_address(request: Request) -> str:
    """The right-most address of the path that is not one of our proxies."""
    peer = request.client.host if request.client else ""
    forwarded = ",".join(request.headers.getlist("X-Forwarded-For")).split(",")
    hops = [hop.strip() for hop in forwarded if hop.strip()] + [peer]
    for hop in reversed(hops):  # only our proxies append: anything left of them is hearsay
        if hop not in TRUSTED_PROXIES:
            return hop
    return hops[0]


async def subject(
    request: Request,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(HTTPBearer(auto_error=False))],
) -> str:
    if bearer is not None and (user := TOKENS.get(bearer.credentials)) is not None:
        return f"user:{user}"
    return f"ip:{client_address(request)}"


async def take_token(redis: Redis, key: str, now: float) -> tuple[bool, float]:
    """Refill the bucket at `key` up to `now` and take a token if a whole one is there."""
    async with redis.pipeline() as pipe:
        while True:
            try:
                await pipe.watch(key)  # EXEC fails if another request writes the key first
                stored = await pipe.hgetall(key)
                level = float(stored.get("tokens", CAPACITY))
                updated = float(stored.get("updated", now))
                level = min(CAPACITY, level + max(0.0, now - updated) * REFILL_PER_SECOND)
                allowed = level >= 1
                if allowed:
                    level -= 1
                pipe.multi()
                pipe.hset(key, mapping={"tokens": level, "updated": max(updated, now)})
                pipe.expire(key, FULL_AFTER)
                await pipe.execute()
                return allowed, level
            except WatchError:
                continue


async def rate_limit(
    response: Response,
    redis: RedisDep,
    now: Annotated[float, Depends(clock)],
    who: Annotated[str, Depends(subject)],
) -> None:
    allowed, level = await take_token(redis, f"ratelimit:{who}", now)
    remaining = math.floor(level)
    next_token = math.ceil((remaining + 1 - level) / REFILL_PER_SECOND)
    headers = {
        "RateLimit-Policy": f'"{POLICY}";q={CAPACITY};w={FULL_AFTER}',
        "RateLimit": f'"{POLICY}";r={remaining};t={next_token}',
    }
    if not allowed:
        raise RateLimited({**headers, "Retry-After": str(next_token)})
    response.headers.update(headers)


app = FastAPI(lifespan=lifespan, exception_handlers={RateLimited: too_many_requests})


@app.get("/items/{sku}", dependencies=[Depends(rate_limit)])
async def read_item(sku: str) -> dict[str, str]:
    return {"sku": sku}
