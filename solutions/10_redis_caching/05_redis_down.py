"""When Redis is down: every answer still comes from the database, and the outage is logged once."""

import logging
import os
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from typing import Annotated, TypedDict, TypeVar

from fakeredis import FakeAsyncRedis
from fastapi import Depends, FastAPI, HTTPException, Request
from pydantic import BaseModel, ConfigDict
from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///shop.sqlite3"
PRODUCT_TTL = 300  # seconds
REDIS_TIMEOUT = 0.25  # seconds: a cache slower than this is no help

T = TypeVar("T")
logger = logging.getLogger("shop.cache")


class Base(DeclarativeBase):
    pass


class ProductRow(Base):
    __tablename__ = "products"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str]
    price_cents: Mapped[int]


class Product(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    price_cents: int


class ProductIn(BaseModel):
    name: str
    price_cents: int


class Cache:
    """Redis as a speed-up only: a command that fails is a miss, and an outage is logged once."""

    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self.available = True

    async def attempt(self, command: Awaitable[T]) -> T | None:
        try:
            result = await command
        except RedisError as error:
            if self.available:  # once per outage, not once per request
                logger.warning("Redis is unavailable, serving from the database: %s", error)
            self.available = False
            return None
        self.available = True
        return result


class State(TypedDict):
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    redis: Redis
    cache: Cache


def redis_from_env() -> Redis:
    """The Redis that REDIS_URL names, or a new in-process fakeredis when it is unset."""
    if url := os.environ.get("REDIS_URL"):
        return Redis.from_url(
            url,
            decode_responses=True,
            socket_connect_timeout=REDIS_TIMEOUT,
            socket_timeout=REDIS_TIMEOUT,
        )
    return FakeAsyncRedis(decode_responses=True)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[State]:
    engine = create_async_engine(os.environ.get("DATABASE_URL", DEFAULT_DATABASE_URL))
    async with engine.begin() as connection:
        await connection.run_sync(Base.metadata.create_all)
    redis = redis_from_env()  # connects at its first command: starting needs no Redis
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    yield {"engine": engine, "sessions": sessions, "redis": redis, "cache": Cache(redis)}
    await redis.aclose()
    await engine.dispose()


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    async with request.state.sessions() as session:
        yield session


SessionDep = Annotated[AsyncSession, Depends(get_session)]


async def get_cache(request: Request) -> Cache:
    return request.state.cache


CacheDep = Annotated[Cache, Depends(get_cache)]

app = FastAPI(lifespan=lifespan)


def product_key(product_id: int) -> str:
    return f"shop:v1:product:{product_id}"


async def load_row(session: AsyncSession, product_id: int) -> ProductRow:
    if (row := await session.get(ProductRow, product_id)) is None:
        raise HTTPException(status_code=404, detail="Product not found")
    return row


@app.get("/products/{product_id}")
async def read_product(product_id: int, session: SessionDep, cache: CacheDep) -> Product:
    key = product_key(product_id)
    if (cached := await cache.attempt(cache.redis.get(key))) is not None:
        return Product.model_validate_json(cached)
    product = Product.model_validate(await load_row(session, product_id))
    await cache.attempt(cache.redis.set(key, product.model_dump_json(), ex=PRODUCT_TTL))
    return product


@app.put("/products/{product_id}")
async def update_product(
    product_id: int, change: ProductIn, session: SessionDep, cache: CacheDep
) -> Product:
    row = await load_row(session, product_id)
    row.name, row.price_cents = change.name, change.price_cents
    await session.commit()
    # lost while Redis is down: the old entry then lives until its TTL runs out
    await cache.attempt(cache.redis.delete(product_key(product_id)))
    return Product.model_validate(row)
