"""Invalidate on write: a write deletes its product's entry and retires every cached list."""

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
    version = await redis.get(LIST_VERSION_KEY) or 0
    return f"shop:v1:products:{version}:{limit}"


async def invalidate(redis: Redis, product_id: int) -> None:
    await redis.delete(product_key(product_id))
    # a new version retires every cached list at once; the old ones expire by their TTL
    await redis.incr(LIST_VERSION_KEY)


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
    # only once committed: a read before the commit would cache the old row again
    await invalidate(redis, product_id)
    return Product.model_validate(row)


@app.delete("/products/{product_id}", status_code=204)
async def delete_product(product_id: int, session: SessionDep, redis: RedisDep) -> None:
    await session.delete(await load_row(session, product_id))
    await session.commit()
    await invalidate(redis, product_id)
