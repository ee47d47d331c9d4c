import logging
import os
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from typing import Annotated, TypeVar

from cache_aside import PRODUCT_TTL, product_key
from catalogue import (
    DEFAULT_DATABASE_URL,
    Base,
    Product,
    ProductIn,
    ProductRow,
    SessionDep,
    State,
)
from fakeredis import FakeAsyncRedis
from fastapi import Depends, FastAPI, HTTPException, Request
from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

T = TypeVar("T")
logger = logging.getLogger("shop.cache")


# --8<-- [start:cache]
class Cache:
    """Redis as a speed-up only: a failing command is a miss, and an outage is logged once."""

    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self.up = True

    async def get(self, key: str) -> str | None:
        return await self._attempt(self.redis.get(key))

    async def set(self, key: str, value: str, ttl: int) -> None:
        await self._attempt(self.redis.set(key, value, ex=ttl))

    async def delete(self, key: str) -> None:
        await self._attempt(self.redis.delete(key))

    async def _attempt(self, command: Awaitable[T]) -> T | None:
        try:
            result = await command
        except RedisError as exc:
            if self.up:
                logger.warning("Redis is unavailable, serving from the database: %s", exc)
            self.up = False
            return None
        if not self.up:
            logger.info("Redis is back")
        self.up = True
        return result
        # --8<-- [end:cache]


# --8<-- [start:client]
REDIS_TIMEOUT = 0.25  # seconds: a cache slower than this is no faster than the database


def redis_from_env() -> Redis:
    if url := os.environ.get("REDIS_URL"):
        return Redis.from_url(
            url,
            decode_responses=True,
            socket_connect_timeout=REDIS_TIMEOUT,
            socket_timeout=REDIS_TIMEOUT,
        )
    return FakeAsyncRedis(decode_responses=True)


class CacheState(State):
    cache: Cache


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[CacheState]:
    engine = create_async_engine(os.environ.get("DATABASE_URL", DEFAULT_DATABASE_URL))
    async with engine.begin() as connection:
        await connection.run_sync(Base.metadata.create_all)
    redis = redis_from_env()  # no command yet: the app starts whether Redis answers or not
    try:
        sessions, cache = async_sessionmaker(engine, expire_on_commit=False), Cache(redis)
        yield {"engine": engine, "sessions": sessions, "redis": redis, "cache": cache}
    finally:
        await redis.aclose()
        await engine.dispose()
        # --8<-- [end:client]


async def get_cache(request: Request) -> Cache:
    """The cache the lifespan made, for `Depends`."""
    return request.state.cache


CacheDep = Annotated[Cache, Depends(get_cache)]
app = FastAPI(title="Products", lifespan=lifespan)


# --8<-- [start:routes]
@app.get("/products/{product_id}")
async def read_product(product_id: int, session: SessionDep, cache: CacheDep) -> Product:
    key = product_key(product_id)
    if (cached := await cache.get(key)) is not None:
        return Product.model_validate_json(cached)
    if (row := await session.get(ProductRow, product_id)) is None:
        raise HTTPException(status_code=404, detail="Product not found")
    product = Product.model_validate(row)
    await cache.set(key, product.model_dump_json(), PRODUCT_TTL)
    return product


@app.put("/products/{product_id}")
async def replace_product(
    product_id: int, change: ProductIn, session: SessionDep, cache: CacheDep
) -> Product:
    if (row := await session.get(ProductRow, product_id)) is None:
        raise HTTPException(status_code=404, detail="Product not found")
    row.name, row.price_cents = change.name, change.price_cents
    await session.commit()
    await cache.delete(product_key(product_id))  # lost while Redis is down: see the TTL
    return Product.model_validate(row)
    # --8<-- [end:routes]
