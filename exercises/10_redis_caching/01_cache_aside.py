"""Cache-aside: a product is read from Redis, and from SQL only when Redis does not have it.

Task: `GET /products/{product_id}` reads the product from the database on every request.
Put Redis aside of it: look in Redis first and answer from there when the product is
cached; otherwise load it from SQL, store it in Redis with a TTL, and answer.

The contract (the checks rely on it):
- Given, keep as they are: `Base`, `ProductRow` (the table `products`: `id`, `name`,
  `price_cents`), `Product` (the JSON a client gets), `State`, `redis_from_env`,
  `lifespan`, `get_session`, `get_redis` and `app` (keep these names). The lifespan reads
  `DATABASE_URL` and `REDIS_URL` when the app starts and yields the state
  `{"engine": ..., "sessions": ..., "redis": ...}`; the checks use it to add rows through
  `sessions` and to read Redis through `redis`.
- The cache key of product 42 is exactly `shop:v1:product:42` (the product's id as a
  number: `GET /products/007` uses `shop:v1:product:7`); its value is the product's JSON
  object, `{"id": 42, "name": ..., "price_cents": ...}`.
- A hit (the key exists): answer 200 with the product the entry holds, without sending any
  SQL, even when the row has changed since or no longer exists. A hit leaves the entry and
  its TTL as they are: it does not make the entry live longer.
- A miss: load the row from SQL. When it exists, answer 200 with it and store it under its
  key with a TTL of `PRODUCT_TTL` seconds (keep this name; 300), so that Redis forgets it
  by itself 300 seconds later: read it back with `TTL`, it says 300 (or 299 a second on).
- An id with no row answers 404 `{"detail": "Product not found"}` and writes nothing to
  Redis, so a row added later is found by the next request (no negative caching).
- What a key that holds something other than a product's JSON does is not graded.
- A warning is an error in the checks: use `redis.set(key, value, ex=seconds)`, since
  redis-py 8 marks `setex` as deprecated.
"""

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, TypedDict

from fakeredis import FakeAsyncRedis
from fastapi import Depends, FastAPI, HTTPException, Request
from pydantic import BaseModel, ConfigDict
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///shop.sqlite3"
PRODUCT_TTL = 300  # seconds


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


class State(TypedDict):
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    redis: Redis


def redis_from_env() -> Redis:
    """Given: the Redis that REDIS_URL names, or a new in-process fakeredis when it is unset."""
    if url := os.environ.get("REDIS_URL"):
        return Redis.from_url(url, decode_responses=True)
    return FakeAsyncRedis(decode_responses=True)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[State]:
    engine = create_async_engine(os.environ.get("DATABASE_URL", DEFAULT_DATABASE_URL))
    async with engine.begin() as connection:
        await connection.run_sync(Base.metadata.create_all)
    redis = redis_from_env()
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    yield {"engine": engine, "sessions": sessions, "redis": redis}
    await redis.aclose()
    await engine.dispose()


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    async with request.state.sessions() as session:
        yield session


SessionDep = Annotated[AsyncSession, Depends(get_session)]


async def get_redis(request: Request) -> Redis:
    return request.state.redis


RedisDep = Annotated[Redis, Depends(get_redis)]

app = FastAPI(lifespan=lifespan)


def product_key(product_id: int) -> str:
    return f"shop:v1:product:{product_id}"


@app.get("/products/{product_id}")
async def read_product(product_id: int, session: SessionDep, redis: RedisDep) -> Product:
    # TODO: Answer from Redis when the product's key holds it, without touching SQL.
    row = await session.get(ProductRow, product_id)
    if row is None:
        raise HTTPException(status_code=404, detail="Product not found")
    # TODO: Store the product's JSON under its key, expiring after PRODUCT_TTL seconds.
    return Product.model_validate(row)
