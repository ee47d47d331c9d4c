"""Alive is not ready: a health probe that checks nothing, a readiness probe that checks all."""

import asyncio
import os
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Annotated, Literal, TypedDict

from fakeredis import FakeAsyncRedis
from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse
from redis.asyncio import Redis
from sqlalchemy import text
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
    lifecycle.draining = True  # first: stop being sent traffic, then let go of the resources
    await redis.aclose()
    await engine.dispose()


async def get_state(request: Request) -> State:
    return State(
        engine=request.state.engine,
        redis=request.state.redis,
        lifecycle=request.state.lifecycle,
    )


StateDep = Annotated[State, Depends(get_state)]

app = FastAPI(lifespan=lifespan)


async def check(probe: Awaitable[object]) -> Check:
    """The probe's result: "ok" within CHECK_TIMEOUT, "down" when it fails or is late."""
    try:
        async with asyncio.timeout(CHECK_TIMEOUT):
            await probe
    except Exception:
        return "down"
    return "ok"


async def ping_database(engine: AsyncEngine) -> None:
    async with engine.connect() as connection:
        await connection.execute(text("SELECT 1"))


@app.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@app.get("/readyz")
async def readyz(state: StateDep) -> JSONResponse:
    if state["lifecycle"].draining:
        return JSONResponse({"status": "draining"}, status_code=503)
    async with asyncio.TaskGroup() as group:
        database = group.create_task(check(ping_database(state["engine"])))
        redis = group.create_task(check(state["redis"].ping()))
    checks = {"database": database.result(), "redis": redis.result()}
    ready = all(result == "ok" for result in checks.values())
    return JSONResponse(checks, status_code=200 if ready else 503)
