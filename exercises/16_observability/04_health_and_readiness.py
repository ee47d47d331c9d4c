"""Alive is not ready: a health probe that checks nothing, a readiness probe that checks all.

Task: the shop runs behind a load balancer that asks two questions. Is the process alive (if
not, restart it)? Is it ready (if not, send it no traffic for now)? Both are answered by one
endpoint today, `/healthz`, which pings nothing, so a shop whose database is gone still
gets traffic. Give the second question its own endpoint.

The contract (the checks rely on it):
- Given, keep as they are: `DEFAULT_DATABASE_URL`, `CHECK_TIMEOUT` (0.5 seconds),
  `Lifecycle`, `State`, `redis_from_env()`, `get_state`, `StateDep`, `app` and `healthz`
  (keep these names). The lifespan reads `DATABASE_URL` and `REDIS_URL` when the app
  starts and yields the state `{"engine": ..., "redis": ..., "lifecycle": Lifecycle()}`:
  the engine made from `DATABASE_URL`, the client `redis_from_env()` made, and a new
  `Lifecycle` for each start.
  The checks read these three through the state and replace the client's methods while the
  app runs: send every Redis command through `state["redis"]`.
- The app starts whether the database and Redis answer or not: nothing at start-up talks to
  either (the engine and the client connect at their first use).
- `GET /healthz` answers 200 `{"status": "ok"}` whenever the process can answer: it sends
  no SQL and no Redis command, whatever state the dependencies are in, draining included.
- `GET /readyz` runs two checks, every time it is asked (never a remembered result):
  `SELECT 1` on a connection of the engine, and `PING` on the Redis client. A check is
  "ok" when it finishes within `CHECK_TIMEOUT` seconds, and "down" when it raises any
  exception (SQLAlchemy's, redis-py's, or any other) or takes longer: bound each check with
  `asyncio.timeout` (or `anyio.fail_after`), so that a server that accepts connections and
  never answers holds the probe for at most `CHECK_TIMEOUT`. Read the module's
  `CHECK_TIMEOUT` when a check runs (the checks change it: at 0, not even a working Redis
  is in time). The answer is the two results:
  200 `{"database": "ok", "redis": "ok"}` when both are "ok", otherwise 503 with the same
  two keys, the failed ones saying "down" (e.g. 503 `{"database": "ok", "redis": "down"}`).
  The two checks may run one after the other or at the same time.
- Draining: while `state["lifecycle"].draining` is true, `GET /readyz` answers 503
  `{"status": "draining"}` at once, sending no SQL and no Redis command; `/healthz` still
  answers 200. The lifespan sets `draining` to `True` as the first thing it does at
  shutdown, then closes the Redis client (`await redis.aclose()`) and disposes of the
  engine: a probe that comes in while the app shuts down is told "not ready", not a 500.
  (A server's signal handler may set the flag too; the checks also set it by hand.)
- The checks turn warnings into errors.
- Not graded: log lines, the Redis client's own socket timeouts, whether the checks run
  concurrently, and which response class you return.
"""

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Annotated, Literal, TypedDict

from fakeredis import FakeAsyncRedis
from fastapi import Depends, FastAPI, Request
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///shop.sqlite3"
CHECK_TIMEOUT = 0.5  # seconds: a dependency slower than this is not ready

Check = Literal["ok", "down"]


@dataclass
class Lifecycle:
    """Where the process is in its life: draining once it has been told to stop."""

    draining: bool = False


class State(TypedDict):
    engine: AsyncEngine
    redis: Redis
    lifecycle: Lifecycle


def redis_from_env() -> Redis:
    """The Redis that REDIS_URL names, or a new in-process fakeredis when it is unset."""
    if url := os.environ.get("REDIS_URL"):
        return Redis.from_url(url)
    return FakeAsyncRedis()


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[State]:
    # both connect at their first use: the process starts, and is alive, without either
    engine = create_async_engine(os.environ.get("DATABASE_URL", DEFAULT_DATABASE_URL))
    redis = redis_from_env()
    lifecycle = Lifecycle()
    yield {"engine": engine, "redis": redis, "lifecycle": lifecycle}
    # TODO: draining first, then close the Redis client and dispose of the engine.


async def get_state(request: Request) -> State:
    return State(
        engine=request.state.engine,
        redis=request.state.redis,
        lifecycle=request.state.lifecycle,
    )


StateDep = Annotated[State, Depends(get_state)]

app = FastAPI(lifespan=lifespan)


@app.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


# TODO: GET /readyz: SELECT 1 and PING, each bounded by CHECK_TIMEOUT; 200 or 503 naming
# what is down; 503 {"status": "draining"} while draining.
