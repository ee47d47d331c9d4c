"""ETags on cached answers: the entry holds the body and its tag; a match is a 304 without SQL."""

import hashlib
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, TypedDict

from fakeredis import FakeAsyncRedis
from fastapi import Depends, FastAPI, Header, HTTPException, Request, Response
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
    return f"shop:v2:product:{product_id}"  # v2: the entry is now a hash of body and ETag


def strong_etag(body: str) -> str:
    """Given: the strong ETag of a representation: its SHA-256 hex digest, in double quotes."""
    return f'"{hashlib.sha256(body.encode()).hexdigest()}"'


def is_not_modified(if_none_match: str | None, etag: str) -> bool:
    """Given: True when If-None-Match is * or lists `etag` (weakly: W/"x" counts as "x")."""
    tags = [tag.strip() for tag in (if_none_match or "").split(",")]
    return tags == ["*"] or etag in (tag.removeprefix("W/") for tag in tags)


def entry_for(row: ProductRow) -> dict[str, str]:
    body = Product.model_validate(row).model_dump_json()
    return {"body": body, "etag": strong_etag(body)}


def answer(entry: dict[str, str], if_none_match: str | None = None) -> Response:
    headers = {"ETag": entry["etag"]}
    if is_not_modified(if_none_match, entry["etag"]):
        return Response(status_code=304, headers=headers)
    return Response(entry["body"], media_type="application/json", headers=headers)


async def load_row(session: AsyncSession, product_id: int) -> ProductRow:
    if (row := await session.get(ProductRow, product_id)) is None:
        raise HTTPException(status_code=404, detail="Product not found")
    return row


@app.get("/products/{product_id}")
async def read_product(
    product_id: int,
    session: SessionDep,
    redis: RedisDep,
    if_none_match: Annotated[str | None, Header()] = None,
) -> Response:
    key = product_key(product_id)
    # a hit, conditional or not, answers from the entry alone: the tag was stored with the body
    if not (entry := await redis.hgetall(key)):
        entry = entry_for(await load_row(session, product_id))
        async with redis.pipeline() as pipe:  # MULTI/EXEC: never an entry without its TTL
            await pipe.hset(key, mapping=entry).expire(key, PRODUCT_TTL).execute()
    return answer(entry, if_none_match)


@app.put("/products/{product_id}")
async def update_product(
    product_id: int, change: ProductIn, session: SessionDep, redis: RedisDep
) -> Response:
    row = await load_row(session, product_id)
    row.name, row.price_cents = change.name, change.price_cents
    await session.commit()
    await redis.delete(product_key(product_id))
    return answer(entry_for(row))
