"""Invalidate on write: a write deletes its product's entry and retires every cached list.

Task: the shop caches each product, as in the exercise before, and each page of the product
list; but `PUT` and `DELETE` change the database without telling Redis, so reads go on
serving what was true before the write. Make every write invalidate what it made stale, once
its change is committed: delete the product's entry, and move the lists to a new version.

The contract (the checks rely on it):
- Given, keep as they are: `Base`, `ProductRow` (table `products`: `id`, `name`,
  `price_cents`), `Product`, `ProductIn`, `State`, `redis_from_env`, `lifespan`,
  `get_session`, `get_redis`, `app`, `read_product` and the SQL of every route (keep these
  names). The lifespan yields `{"engine": ..., "sessions": ..., "redis": ...}`; the checks
  add rows through `sessions` and read Redis through `redis`.
- `GET /products/{id}` (given): cache-aside under `shop:v1:product:{id}` with a TTL of
  `PRODUCT_TTL` (300) seconds, as in 01_cache_aside; a hit sends no SQL. An id with no row
  answers 404 `{"detail": "Product not found"}` and caches nothing.
- `GET /products?limit=N`: the first N products by id, as a JSON array (N from 1 to 100,
  default 20; any other N is FastAPI's 422). It is cached under
  `shop:v1:products:{version}:{N}` with a TTL of `LIST_TTL` (60) seconds, where `{version}`
  is the integer stored at `LIST_VERSION_KEY` (`shop:v1:products:version`), or 0 while that
  key does not exist: before any write, `GET /products` uses `shop:v1:products:0:20`.
  A hit sends no SQL.
- `PUT /products/{id}` with a `ProductIn` body changes the row and answers 200 with the
  updated product; `DELETE /products/{id}` removes the row and answers 204 with no body
  (given). A body that is not a valid `ProductIn` is FastAPI's 422, whatever the id.
- Once a PUT or DELETE has committed its change, and not before, it deletes that product's
  key and no other (it does not store the new product: the next read does), and increments
  the list version by one with `INCR`: 1 after the first write, 2 after the second. The
  version key never expires. Lists cached under an older version are neither searched
  for nor deleted: no request reads them any more, and their TTL removes them.
- Why not before: until the commit, every other session still reads the old row. A read
  that arrives while the write is committing, after the entry was deleted or the version
  bumped, would cache the old row again (or the old list, under the new version). The checks
  send such reads while the write commits.
- A PUT or DELETE of an id with no row answers 404 `{"detail": "Product not found"}` and
  changes nothing in Redis.
- A warning is an error in the checks (redis-py 8 marks `setex` as deprecated: use `set`).
"""

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, TypedDict

from fakeredis import FakeAsyncRedis
from fastapi import Depends, FastAPI, HTTPException, Query, Request
from pydantic import BaseModel, ConfigDict, TypeAdapter
from redis.asyncio import Redis
from sqlalchemy import select
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///shop.sqlite3"
PRODUCT_TTL = 300  # seconds
LIST_TTL = 60  # seconds
LIST_VERSION_KEY = "shop:v1:products:version"


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


ProductList = TypeAdapter(list[Product])


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


async def list_key(redis: Redis, limit: int) -> str:
    # TODO: Put the list version in the key: the integer at LIST_VERSION_KEY, 0 while unset.
    return f"shop:v1:products:{limit}"


async def load_row(session: AsyncSession, product_id: int) -> ProductRow:
    if (row := await session.get(ProductRow, product_id)) is None:
        raise HTTPException(status_code=404, detail="Product not found")
    return row


@app.get("/products")
async def list_products(
    session: SessionDep, redis: RedisDep, limit: Annotated[int, Query(ge=1, le=100)] = 20
) -> list[Product]:
    key = await list_key(redis, limit)
    if (cached := await redis.get(key)) is not None:
        return ProductList.validate_json(cached)
    rows = await session.scalars(select(ProductRow).order_by(ProductRow.id).limit(limit))
    products = [Product.model_validate(row) for row in rows]
    await redis.set(key, ProductList.dump_json(products), ex=LIST_TTL)
    return products


@app.get("/products/{product_id}")
async def read_product(product_id: int, session: SessionDep, redis: RedisDep) -> Product:
    key = product_key(product_id)
    if (cached := await redis.get(key)) is not None:
        return Product.model_validate_json(cached)
    product = Product.model_validate(await load_row(session, product_id))
    await redis.set(key, product.model_dump_json(), ex=PRODUCT_TTL)
    return product


@app.put("/products/{product_id}")
async def update_product(
    product_id: int, change: ProductIn, session: SessionDep, redis: RedisDep
) -> Product:
    row = await load_row(session, product_id)
    row.name, row.price_cents = change.name, change.price_cents
    await session.commit()
    # TODO: Now that the change is committed, delete the product's key and bump the version.
    return Product.model_validate(row)


@app.delete("/products/{product_id}", status_code=204)
async def delete_product(product_id: int, session: SessionDep, redis: RedisDep) -> None:
    await session.delete(await load_row(session, product_id))
    await session.commit()
    # TODO: Invalidate here too, after the commit.
