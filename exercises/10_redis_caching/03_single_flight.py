"""Single flight: twenty concurrent misses for one product cause one load.

Task: when a product is not in the cache, every request that misses loads it from SQL, so
twenty requests that arrive together for a cold product send twenty identical SELECTs (a
stampede). Make concurrent misses for one product share a single load.

The contract (the checks rely on it):
- Given, keep as they are: `Base`, `ProductRow` (the table `products`: `id`, `name`,
  `price_cents`), `Product`, `redis_from_env`, `get_sessions`, `get_redis`, `product_key`,
  `load_product` and `app` (keep these names). The lifespan reads `DATABASE_URL` and
  `REDIS_URL` when the app starts and yields a state with at least `"engine"`, `"sessions"`
  and `"redis"` (add what you need beside them); the checks add rows through `sessions` and
  read Redis through `redis`.
- `GET /products/{product_id}` stays cache-aside: a hit (the key `shop:v1:product:{id}`
  exists) answers 200 with the cached product and sends no SQL; a miss calls
  `load_product`, which opens a session of its own (a shared load may outlive the request
  that started it), sends one SELECT and, when the row exists, caches its JSON under that
  key for `PRODUCT_TTL` (300) seconds. An id with no row answers 404
  `{"detail": "Product not found"}`, and nothing is cached for it.
- Single flight: while a load of product N runs, a request for N that misses starts no
  other load. It waits for the running one and answers with its outcome: the same 200 and
  body, or the same 404. Twenty concurrent misses for one product send exactly one SELECT.
  Single flight works within one process: two processes may each run a load of their own
  (sharing across them takes a lock in Redis, beyond this exercise).
- When the shared load raises, every request that waited for it raises that same
  exception (the server answers each with a 500); none of them loads again in its place,
  and nothing is cached.
- A load is shared only while it runs. Once it has ended, returned or raised, the next miss
  starts a new one: a failure is not remembered, and a row changed in SQL is read afresh
  once its cache entry is gone.
- Loads of different products never wait for each other: a request for product M is
  answered while a load of product N is still running.
- The checks hold the SELECT of a load inside the database driver until every request is
  waiting for something, so the requests really overlap; no check measures time.
- The checks turn warnings into errors: a deprecated call fails them (redis-py 8 deprecates
  `setex`; write `set(key, value, ex=seconds)`).
- Not graded: what happens to a shared load when the request that started it is cancelled.
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
    # TODO: Add a place for the running loads to the state.
    yield {"engine": engine, "sessions": sessions, "redis": redis}
    await redis.aclose()
    await engine.dispose()


async def get_sessions(request: Request) -> async_sessionmaker[AsyncSession]:
    return request.state.sessions


SessionsDep = Annotated[async_sessionmaker[AsyncSession], Depends(get_sessions)]


async def get_redis(request: Request) -> Redis:
    return request.state.redis


RedisDep = Annotated[Redis, Depends(get_redis)]

app = FastAPI(lifespan=lifespan)


def product_key(product_id: int) -> str:
    return f"shop:v1:product:{product_id}"


async def load_product(
    sessions: async_sessionmaker[AsyncSession], redis: Redis, product_id: int
) -> Product | None:
    """Given: the product from SQL, cached for PRODUCT_TTL seconds; None when there is none."""
    async with sessions() as session:  # its own session: a shared load may outlive its request
        row = await session.get(ProductRow, product_id)
    if row is None:
        return None
    product = Product.model_validate(row)
    await redis.set(product_key(product_id), product.model_dump_json(), ex=PRODUCT_TTL)
    return product


@app.get("/products/{product_id}")
async def read_product(product_id: int, sessions: SessionsDep, redis: RedisDep) -> Product:
    if (cached := await redis.get(product_key(product_id))) is not None:
        return Product.model_validate_json(cached)
    # TODO: Start a load only when none runs for this product id; remember it while it runs.
    # TODO: Make every miss await the running load's outcome; forget the load once it ends.
    if (product := await load_product(sessions, redis, product_id)) is None:
        raise HTTPException(status_code=404, detail="Product not found")
    return product
