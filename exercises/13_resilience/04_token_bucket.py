"""One rate limit for every instance: a token bucket in Redis, keyed by user or client address.

Task: `GET /items/{sku}` answers anyone, as often as they like. Put a token bucket in front
of it that every instance of the app shares through Redis, answer 429 when the bucket is
empty, and tell clients where they stand on every answer. Run the app twice (two Uvicorn
processes behind our load balancers) and the limit must still be one limit, not two.

The contract (the checks rely on every line, on two copies of this module at once):
- Given, keep as they are: the constants, `redis_from_env`, `State`, `lifespan`,
  `get_redis`, `clock`, `RateLimited` and its handler, `app` and `read_item` (keep these
  names). With REDIS_URL unset, every app of the process shares fakeredis's in-process
  server, as instances share a real Redis.
- Time: the `clock` dependency gives the time in seconds, by Redis's own clock (the one
  clock all instances share). Get `now` from it with Depends, never from time.time() or
  time.monotonic(): the checks override `clock` and move it by hand.
- Whose bucket: a request with `Authorization: Bearer <token>` (the scheme in any case)
  whose token is a key of TOKENS uses its user's bucket, `ratelimit:user:<name>`, wherever
  it comes from. Any other request (no header, another scheme, an unknown token) uses the
  bucket of its client's address, `ratelimit:ip:<address>`.
- The client's address: list the addresses of X-Forwarded-For (all lines of the header,
  in order, joined with commas; split on commas, spaces around each dropped, empty
  entries skipped; addresses compared as written) and put the direct peer,
  `request.client.host`, after them. Walk that list from the right, skipping every
  address in TRUSTED_PROXIES: the first other one is the client. So a peer that is not
  one of our proxies is the client, whatever X-Forwarded-For it sends; and when every
  address is a trusted proxy, the client is the left-most one.
- The bucket: one Redis key per bucket, at the name above (a hash is simplest), and
  nothing else in Redis. A bucket never seen (or expired) is full: CAPACITY (5) tokens.
  At a request, its level first grows by (now - the bucket's time) * REFILL_PER_SECOND
  (0.5: a token every 2 s), capped at CAPACITY; a `now` behind the bucket's time counts as
  no time passed, and the bucket's time becomes the later of the two. Then, when at least
  one whole token is there (level >= 1), the request takes one and is allowed; otherwise
  it is refused and takes nothing. Reading, deciding and writing are one atomic step:
  requests at the same moment, on any instances, never take the same token. (The embedded
  fakeredis runs no Lua scripts: make the step a WATCH/MULTI/EXEC transaction.)
- Every write gives the key a TTL in whole seconds, no shorter than the time the bucket
  needs to be full again ((CAPACITY - level) / REFILL_PER_SECOND) and no longer than
  CAPACITY / REFILL_PER_SECOND = 10 s: after 10 s without a request a bucket is full, and a
  missing key means just that.
- Every answer of `GET /items/{sku}`, allowed or refused, carries these two headers, with
  level = the tokens left after the request, r = floor(level), and t = the seconds until
  the bucket holds r + 1 whole tokens, rounded up: ceil((r + 1 - level) / REFILL_PER_SECOND)
      RateLimit-Policy: "default";q=5;w=10
      RateLimit: "default";r=<r>;t=<t>
  (the fields of the IETF draft draft-ietf-httpapi-ratelimit-headers: a quoted policy
  name, then parameters joined by ";", without spaces). An allowed request answers 200
  `{"sku": sku}`, without Retry-After.
- A refused request answers 429 with `Retry-After: <t>` (r is 0 then, so t is the whole
  seconds until one token is back, rounded up: a client that waits that long gets in),
  the two headers above, and the problem body QUOTA_EXCEEDED as application/problem+json:
  raise `RateLimited(headers)` with the three headers, and the given handler answers.
- What the app does while Redis is down is not part of this exercise. Warnings are
  errors in the checks.
"""

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, TypedDict

from fakeredis import FakeAsyncRedis
from fastapi import Depends, FastAPI, Request, Response
from fastapi.responses import JSONResponse
from redis.asyncio import Redis

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


async def rate_limit(
    request: Request,
    response: Response,
    redis: RedisDep,
    now: Annotated[float, Depends(clock)],
) -> None:
    # TODO: pick the bucket: the user of a valid bearer token, else the client's address.
    # TODO: refill the bucket to `now` and take a token in one WATCH/MULTI/EXEC transaction,
    # TODO: and run it again when it fails with redis.exceptions.WatchError.
    # TODO: give the key its TTL, and set RateLimit-Policy and RateLimit on every answer.
    # TODO: when no whole token is left, raise RateLimited with Retry-After as well.
    return None


app = FastAPI(lifespan=lifespan, exception_handlers={RateLimited: too_many_requests})


@app.get("/items/{sku}", dependencies=[Depends(rate_limit)])
async def read_item(sku: str) -> dict[str, str]:
    return {"sku": sku}
