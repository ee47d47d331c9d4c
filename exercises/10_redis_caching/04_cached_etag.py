"""ETags on cached answers: the entry holds the body and its tag; a match is a 304 without SQL.

Task: clients poll `GET /products/{product_id}` and download the same bytes again and again.
Give every answer a strong ETag, stored in the cache entry beside the body, so that a client
that already holds the current bytes gets `304 Not Modified` straight from Redis, without a
single SQL statement.

The contract (the checks rely on it):
- Given, keep as they are: `Base`, `ProductRow` (the table `products`: `id`, `name`,
  `price_cents`), `Product`, `ProductIn`, `State`, `redis_from_env`, `lifespan`,
  `get_session`, `get_redis`, `strong_etag`, `is_not_modified`, `load_row` and `app` (keep
  these names). The lifespan reads `DATABASE_URL` and `REDIS_URL` when the app starts and
  yields the state `{"engine": ..., "sessions": ..., "redis": ...}`; the checks add rows
  through `sessions` and read Redis through `redis`.
- A product's representation is its JSON exactly as `Product.model_dump_json()` writes it
  (`{"id":42,"name":"Desk lamp","price_cents":3900}`), sent as `application/json`. Its ETag
  is `strong_etag(<those bytes>)`: their SHA-256 hex digest in double quotes, no `W/`.
- The cache entry changes format, so it changes key: product 42's entry is the Redis hash
  `shop:v2:product:42` with exactly two fields, `body` (the representation) and `etag`
  (its ETag), stored with a TTL of `PRODUCT_TTL` (300) seconds. An entry of the old format
  (a JSON string at `shop:v1:product:42`) is never read.
- `GET /products/{product_id}`: a hit (the hash exists) answers from the entry alone, the
  body and ETag exactly as stored, and sends no SQL, even when the row has changed since.
  A miss loads the row (one SELECT), stores its entry, then answers from it. Every 200
  carries `ETag: <the entry's etag>`.
- When `is_not_modified(<the If-None-Match header>, <the entry's etag>)` is true (the header
  is `*`, or lists the ETag, `W/` allowed), the answer is 304 with the `ETag` header and no
  body: without SQL on a hit, after the one load that stores the entry on a miss.
- An id with no row answers the given 404 `{"detail": "Product not found"}`, without an
  ETag and with nothing stored, whatever If-None-Match says (`*` too).
- `PUT /products/{product_id}` (body `{"name": str, "price_cents": int}`) commits the
  change, then deletes the product's entry (given), and answers 200 with the new
  representation and its ETag: the same bytes and tag as the next GET. The old ETag no
  longer matches anything.
- The checks turn warnings into errors: a deprecated call fails them (redis-py 8 deprecates
  `hmset`; write `hset(key, mapping={...})`).
- Not graded: other headers, the content-type of a 304, and what other values at
  `shop:v2:...` keys do.
"""

import hashlib
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


class ProductIn(BaseModel):
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


def strong_etag(body: str) -> str:
    """Given: the strong ETag of a representation: its SHA-256 hex digest, in double quotes."""
    return f'"{hashlib.sha256(body.encode()).hexdigest()}"'


def is_not_modified(if_none_match: str | None, etag: str) -> bool:
    """Given: True when If-None-Match is * or lists `etag` (weakly: W/"x" counts as "x")."""
    tags = [tag.strip() for tag in (if_none_match or "").split(",")]
    return tags == ["*"] or etag in (tag.removeprefix("W/") for tag in tags)


async def load_row(session: AsyncSession, product_id: int) -> ProductRow:
    if (row := await session.get(ProductRow, product_id)) is None:
        raise HTTPException(status_code=404, detail="Product not found")
    return row


@app.get("/products/{product_id}")
async def read_product(product_id: int, session: SessionDep, redis: RedisDep) -> Product:
    key = product_key(product_id)
    # TODO: Keep the body and its ETag as a hash under a v2 key, with the TTL (one pipeline).
    # TODO: Answer from the entry with its ETag, or 304 when If-None-Match matches that ETag.
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
    await redis.delete(product_key(product_id))
    # TODO: Answer the new representation with its ETag, exactly as the next read will.
    return Product.model_validate(row)
