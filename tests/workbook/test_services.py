"""The suites' database and Redis fixtures, on the embedded parts or on the servers CI starts.

Run with ``DATABASE_URL``/``REDIS_URL`` set, these prove the same things against PostgreSQL
and Redis: each check gets an empty database and an empty Redis, named in the environment.
"""

import os
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from fakeredis import FakeAsyncRedis
from fastapi import FastAPI
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from workbook import services
from workbook.testing import running

EMBEDDED_REDIS = "redis://embedded-redis:6379/0"


def app_reading_the_environment() -> FastAPI:
    """An app made as the data modules' apps are: its lifespan reads both URLs."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, Any]]:
        engine = create_async_engine(os.environ["DATABASE_URL"])
        url = os.environ.get("REDIS_URL")
        redis = Redis.from_url(url) if url else FakeAsyncRedis.from_url(EMBEDDED_REDIS)
        yield {"engine": engine, "redis": redis}
        await redis.aclose()
        await engine.dispose()

    app = FastAPI(lifespan=lifespan)

    @app.get("/tables")
    async def tables() -> list[str]:
        return []

    return app


async def test_database_url_is_exported_and_empty(database_url: str) -> None:
    assert os.environ["DATABASE_URL"] == database_url
    engine = create_async_engine(database_url)
    try:
        async with engine.begin() as connection:
            await connection.execute(text("CREATE TABLE probe (n INTEGER)"))
            await connection.execute(text("INSERT INTO probe VALUES (1)"))
    finally:
        await engine.dispose()


async def test_the_next_check_gets_another_database(database_url: str) -> None:
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as connection:
            with pytest.raises(Exception, match="probe"):
                await connection.execute(text("SELECT n FROM probe"))
    finally:
        await engine.dispose()


async def test_statements_are_counted_on_an_apps_own_engine(database_url: str) -> None:
    async with running(app_reading_the_environment()) as (_, state):
        with services.count_statements() as statements:
            async with state["engine"].connect() as connection:
                await connection.execute(text("SELECT 1"))
                await connection.execute(text("SELECT 2"))
        async with state["engine"].connect() as connection:
            await connection.execute(text("SELECT 3"))
    assert statements.sql == ["SELECT 1", "SELECT 2"]
    assert "  2. SELECT 2" in statements.listing()


async def test_redis_url_names_an_empty_redis(redis_url: str | None, database_url: str) -> None:
    assert os.environ.get("REDIS_URL") == redis_url
    async with running(app_reading_the_environment()) as (_, state):
        redis = state["redis"]
        if redis_url is None:
            await redis.flushall()  # the embedded server lives as long as the process
        assert await redis.dbsize() == 0
        await redis.set("left-over", "1")


async def test_a_real_redis_is_emptied_before_each_check(redis_url: str | None) -> None:
    if redis_url is None:
        pytest.skip("REDIS_URL is not set: the embedded server is emptied by each suite")
    client = Redis.from_url(redis_url)
    try:
        assert await client.get("left-over") is None
    finally:
        await client.aclose()


CLAIM = (
    "import sys\nfrom workbook import services\n"
    "print(services.redis_database(), flush=True)\nsys.stdin.read()"
)


def test_processes_at_once_each_claim_a_redis_database_of_their_own() -> None:
    """Like xdist workers, or the grading children of two verify runs at once."""
    mine = services.redis_database()
    holders = [
        subprocess.Popen(
            [sys.executable, "-c", CLAIM], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        for _ in range(3)
    ]
    try:
        claimed = [int(holder.stdout.readline()) for holder in holders if holder.stdout]
    finally:
        for holder in holders:
            holder.communicate(timeout=30)  # ends its input: the holder exits
    assert len({mine, *claimed}) == 4, claimed
    assert all(1 <= database <= 15 for database in claimed)


def test_the_url_names_the_claimed_database() -> None:
    url = services.worker_redis_url("redis://:secret@127.0.0.1:6380/0")
    assert url == f"redis://:secret@127.0.0.1:6380/{services.redis_database()}"


async def test_the_unreachable_redis_refuses_at_once() -> None:
    client = Redis.from_url(services.UNREACHABLE_REDIS_URL)
    try:
        with pytest.raises(RedisConnectionError):
            await client.ping()
    finally:
        await client.aclose()
